// Renders the shipped nginx template (as the official image's envsubst does) into a loopback nginx setup for tests.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const TEMPLATE = join(__dirname, '..', '..', '..', 'nginx', 'templates', 'dbapi.conf.template');

export interface NginxConfigOptions {
  /** A fresh directory: the prefix for the config, its logs and temp files. */
  dir: string;
  port: number;
  upstreamPorts: number[];
  bodyLimitBytes?: number;
}

/** envsubst's rule for `${NAME}`: replaced when NAME is given; anything left over is a mistake in the template. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  const out = template.replace(/\$\{([A-Z0-9_]+)\}/g, (whole, name: string) => values[name] ?? whole);
  const left = /\$\{[A-Z0-9_]+\}/.exec(out);
  if (left) throw new Error(`nginx template: no value for ${left[0]}`);
  return out;
}

/** Writes `<dir>/nginx.conf` (a minimal main file, as the image's own) that includes the rendered template. */
export function writeNginxConfig({ dir, port, upstreamPorts, bodyLimitBytes = 1024 * 1024 }: NginxConfigOptions): string {
  mkdirSync(join(dir, 'temp'), { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'temp'), 0o777); // worker processes may run as nobody when the test runs as root
  const snippet = renderTemplate(readFileSync(TEMPLATE, 'utf8'), {
    NGINX_LISTEN: `127.0.0.1:${port}`,
    DBAPI_UPSTREAM_SERVERS: upstreamPorts.map((p) => `server 127.0.0.1:${p} max_fails=0;`).join('\n    '),
    NGINX_LOCAL_RESOLVERS: '127.0.0.1',
    BODY_LIMIT_BYTES: String(bodyLimitBytes),
    NGINX_ACCESS_LOG: join(dir, 'access.log'),
  });
  writeFileSync(join(dir, 'dbapi.conf'), snippet);
  const temp = join(dir, 'temp');
  const main = `daemon off;
worker_processes 2;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  default_type application/octet-stream;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  include ${join(dir, 'dbapi.conf')};
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, main);
  return file;
}
