// Starts the real gateway (startGateway) on databases of its own, listening on loopback, with logs captured in memory.
import { join } from 'node:path';
import type { Server } from 'node:http';
import { loadSettings } from '../../src/settings';
import { startGateway } from '../../src/startGateway';
import type { Lifecycle } from '../../lib/http/Lifecycle';
import type { Databases } from '../../lib/db/createDatabases';
import { createTestDatabase, type TestDatabase } from './testDatabase';

export const ROOT = join(__dirname, '..', '..');
export const TOKEN = 'test-token-0123456789abcdef';
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'modules');

export interface TestApp {
  url: string;
  port: number;
  server: Server;
  db: Databases;
  logs: Array<Record<string, any>>;
  lifecycle: Lifecycle;
  call(path: string, body?: unknown, init?: CallInit): Promise<CallResult>;
  close(): Promise<void>;
}

export interface CallInit {
  token?: string | null;
  headers?: Record<string, string>;
  method?: string;
  /** Sent as is (a string), instead of JSON-encoding `body`. */
  raw?: string | Buffer;
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Module folders to serve; default: the project's modules plus the test fixtures. */
  moduleDirs?: string[];
  /** Extra named databases to create (DATABASE_URL_<NAME>). */
  databases?: string[];
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const created: TestDatabase[] = [];
  const urls: Record<string, string> = {};
  for (const name of ['default', ...(options.databases ?? [])]) {
    const t = await createTestDatabase();
    created.push(t);
    urls[name] = t.url;
  }
  const env: Record<string, string> = { ENVIRONMENT: 'test', BEARER: TOKEN, LOG_FILE: '', LOG_LEVEL: 'debug', DATABASE_URL: urls.default, ...options.env };
  for (const [name, url] of Object.entries(urls)) if (name !== 'default') env[`DATABASE_URL_${name.toUpperCase()}`] = url;
  const settings = loadSettings(env, ROOT);
  const logs: Array<Record<string, any>> = [];
  const gateway = await startGateway(settings, {
    moduleDirs: options.moduleDirs ?? [join(ROOT, 'modules'), FIXTURES],
    logStreams: [{ write: (line: string) => void logs.push(JSON.parse(line)) }],
    stdout: false, listen: { host: '127.0.0.1', port: 0 }, migrateNow: true,
  });
  const { url, db, lifecycle } = gateway;

  async function call(path: string, body: unknown = {}, init: CallInit = {}): Promise<CallResult> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers };
    const token = init.token === undefined ? TOKEN : init.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const method = init.method ?? 'POST';
    const payload = init.raw ?? (method === 'GET' || method === 'HEAD' ? undefined : JSON.stringify(body));
    const res = await fetch(url + path, { method, headers, body: payload });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  return {
    url, port: gateway.port, server: gateway.server, db, logs, lifecycle, call,
    async close() {
      await gateway.stop();
      for (const t of created) await t.drop();
    },
  };
}
