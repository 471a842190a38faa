// filebeat.yml (the Swarm stack's and, identical, k8s/'s sidecar config) checked past its YAML syntax: every option
// is one filebeat 8.x documents for where it stands, the input's path matches where the gateway writes its log in
// both deployments, and a real log line of the gateway decodes as the ndjson parser is told to (fields to the root,
// dotted ECS keys expanded without a conflict, the line's own @timestamp and message kept).
import { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { createLogger } from '../../lib/log/createLogger';

const ROOT = join(__dirname, '..', '..');
const config = parse(readFileSync(join(ROOT, 'filebeat.yml'), 'utf8'));

// From filebeat's reference (filebeat.reference.yml and the filestream input, ndjson parser, elasticsearch output and
// logging pages of the 8.x documentation). Dotted: YAML nesting and dotted keys are the same to filebeat.
const DOCUMENTED = {
  top: ['filebeat.inputs', 'filebeat.config.inputs', 'filebeat.config.modules', 'filebeat.registry', 'filebeat.shutdown_timeout',
    'processors', 'output.elasticsearch', 'output.logstash', 'output.console', 'logging', 'setup', 'name', 'tags', 'fields',
    'fields_under_root', 'path', 'monitoring', 'http', 'queue', 'max_procs', 'seccomp'],
  filestream: ['type', 'id', 'enabled', 'paths', 'encoding', 'exclude_lines', 'include_lines', 'buffer_size', 'message_max_bytes',
    'tags', 'fields', 'fields_under_root', 'processors', 'pipeline', 'keep_null', 'index', 'publisher_pipeline.disable_host',
    'prospector.scanner.recursive_glob', 'prospector.scanner.exclude_files', 'prospector.scanner.include_files',
    'prospector.scanner.symlinks', 'prospector.scanner.resend_on_touch', 'prospector.scanner.check_interval',
    'prospector.scanner.fingerprint.enabled', 'prospector.scanner.fingerprint.offset', 'prospector.scanner.fingerprint.length',
    'ignore_older', 'ignore_inactive', 'close.on_state_change.check_interval', 'close.on_state_change.inactive',
    'close.on_state_change.renamed', 'close.on_state_change.removed', 'close.reader.on_eof', 'close.reader.after_interval',
    'clean_inactive', 'clean_removed', 'backoff.init', 'backoff.max', 'file_identity', 'rotation', 'parsers', 'harvester_limit',
    'take_over'],
  parsers: ['ndjson', 'multiline', 'container', 'syslog', 'include_message'],
  ndjson: ['target', 'overwrite_keys', 'expand_keys', 'add_error_key', 'message_key', 'document_id', 'ignore_decoding_error'],
  processors: ['add_host_metadata', 'add_fields', 'add_cloud_metadata', 'add_docker_metadata', 'add_kubernetes_metadata',
    'add_labels', 'add_tags', 'drop_event', 'drop_fields', 'include_fields', 'rename', 'decode_json_fields', 'timestamp'],
  add_fields: ['target', 'fields', 'when'],
  elasticsearch: ['hosts', 'username', 'password', 'api_key', 'protocol', 'path', 'headers', 'index', 'pipeline', 'ssl',
    'worker', 'bulk_max_size', 'compression_level', 'timeout', 'backoff', 'max_retries', 'preset', 'allow_older_versions'],
  logging: ['level', 'to_stderr', 'to_files', 'to_syslog', 'selectors', 'metrics', 'files', 'json'],
};

/** Every leaf or documented-subtree key as a dotted path (`prospector.scanner.check_interval`). */
function dotted(obj: Record<string, unknown>, keep: string[] = [], prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) => {
    const path = prefix + k;
    if (keep.includes(path) || v === null || typeof v !== 'object' || Array.isArray(v)) return [path];
    return dotted(v as Record<string, unknown>, keep, `${path}.`);
  });
}

const undocumented = (keys: string[], documented: string[]) => keys.filter((k) => !documented.includes(k));

test('every option is documented for where it stands', () => {
  const top = dotted(config, DOCUMENTED.top).filter((k) => !DOCUMENTED.top.some((d) => k === d || k.startsWith(`${d}.`)));
  expect(top).toEqual([]);
  expect(config['filebeat.inputs'].length).toBe(1);
  for (const input of config['filebeat.inputs']) {
    expect(input.type).toBe('filestream');
    expect(undocumented(dotted(input, ['file_identity', 'rotation', 'fields', 'parsers', 'processors']), DOCUMENTED.filestream)).toEqual([]);
    for (const parser of input.parsers) {
      expect(undocumented(Object.keys(parser), DOCUMENTED.parsers)).toEqual([]);
      if (parser.ndjson) expect(undocumented(Object.keys(parser.ndjson), DOCUMENTED.ndjson)).toEqual([]);
    }
  }
  for (const p of config.processors) {
    expect(undocumented(Object.keys(p), DOCUMENTED.processors)).toEqual([]);
    if (p.add_fields) expect(undocumented(Object.keys(p.add_fields), DOCUMENTED.add_fields)).toEqual([]);
  }
  expect(undocumented(Object.keys(config['output.elasticsearch']), DOCUMENTED.elasticsearch)).toEqual([]);
  const logging = Object.keys(config).filter((k) => k.startsWith('logging.')).map((k) => k.slice('logging.'.length).split('.')[0]);
  expect(undocumented(logging, DOCUMENTED.logging)).toEqual([]);
});

test('the documented key list catches a misspelt option', () => {
  const bad = { ...config['filebeat.inputs'][0], 'close.on_state_change.inactiv': '5m', parsers: [{ ndjson: { overwrite_key: true } }] };
  expect(undocumented(dotted(bad, ['parsers']), DOCUMENTED.filestream)).toEqual(['close.on_state_change.inactiv']);
  expect(undocumented(Object.keys(bad.parsers[0].ndjson), DOCUMENTED.ndjson)).toEqual(['overwrite_key']);
});

test('the filestream input has its required unique id and values of the documented kinds', () => {
  const [input] = config['filebeat.inputs'];
  expect(input.id).toMatch(/^[a-z0-9-]+$/); // required for filestream: the registry keys file states by it
  expect(input['prospector.scanner.check_interval']).toMatch(/^\d+(ms|s|m)$/);
  expect(input['close.on_state_change.inactive']).toMatch(/^\d+(s|m|h)$/);
  const ndjson = input.parsers.find((p: any) => p.ndjson).ndjson;
  expect(ndjson).toEqual({ target: '', overwrite_keys: true, expand_keys: true, add_error_key: true });
  expect(config.logging?.level ?? config['logging.level']).toMatch(/^(debug|info|warning|error)$/);
});

test('its paths match where the gateway writes in the Swarm stack and in Kubernetes', () => {
  const [input] = config['filebeat.inputs'];
  const stack = parse(readFileSync(join(ROOT, 'docker-stack.yml'), 'utf8'), { merge: true });
  const workdir = /^WORKDIR (\S+)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('FROM').pop()!)![1];
  const logFile = posix.join(workdir, stack.services.dbapi.environment.LOG_FILE.replace('{{.Task.Slot}}', '3'));
  const glob = new RegExp(`^${input.paths[0].replace(/[.]/g, '\\.').replace('*', '[^/]*')}$`);
  expect(logFile).toMatch(glob);
  // The same volume at the same place in both services.
  const mount = (service: string) => stack.services[service].volumes.find((v: string) => v.startsWith('dbapi-logs:')).split(':')[1];
  expect(mount('dbapi')).toBe(posix.dirname(logFile));
  expect(mount('filebeat')).toBe(posix.dirname(logFile));
  const k8sLogFile = posix.join(workdir, /LOG_FILE=(\S+)/.exec(readFileSync(join(ROOT, 'k8s/base/kustomization.yaml'), 'utf8'))![1]);
  expect(k8sLogFile).toMatch(glob);
});

/** What filebeat's ndjson parser makes of a line with target "" and expand_keys: a conflict is an error there too. */
function decode(line: string): Record<string, any> {
  const event: Record<string, any> = {};
  for (const [key, value] of Object.entries(JSON.parse(line))) {
    const parts = key.split('.');
    let at = event;
    for (const part of parts.slice(0, -1)) {
      if (at[part] !== undefined && (typeof at[part] !== 'object' || at[part] === null)) throw new Error(`expand_keys conflict at ${key}`);
      at = at[part] ??= {};
    }
    const last = parts[parts.length - 1];
    if (at[last] !== undefined) throw new Error(`expand_keys conflict at ${key}`);
    at[last] = value;
  }
  return event;
}

test('a real gateway log line decodes as configured: ECS fields at the root, no key conflict', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
  const log = createLogger({ level: 'info', streams: [sink], stdout: false });
  log.info({ http: { request: { id: 'r1' } } }, 'hello');
  log.access.info({ http: { response: { status_code: 200 } }, url: { path: '/a/b' } }, 'POST /a/b 200');
  await log.flushPending();
  expect(lines.length).toBe(2);
  for (const line of lines) {
    const event = decode(line);
    expect(typeof event['@timestamp']).toBe('string');
    expect(typeof event.message).toBe('string');
    expect(event.log.level).toBe('info');
    expect(typeof event.ecs.version).toBe('string');
  }
  expect(decode(lines[1]).http.response.status_code).toBe(200);
});
