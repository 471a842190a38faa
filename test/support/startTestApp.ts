// Builds the real app on databases of its own, listening on loopback, with logs captured in memory.
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { loadSettings } from '../../src/settings';
import { createApp } from '../../src/app';
import { serve } from '../../src/serve';
import { boot } from '../../src/boot';
import type { Lifecycle } from '../../lib/Lifecycle';
import { createLogger } from '../../lib/createLogger';
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
  const env: Record<string, string> = { ENVIRONMENT: 'test', BEARER: TOKEN, LOG_FILE: '', DATABASE_URL: urls.default, ...options.env };
  for (const [name, url] of Object.entries(urls)) if (name !== 'default') env[`DATABASE_URL_${name.toUpperCase()}`] = url;
  const settings = loadSettings(env, ROOT);
  const logs: Array<Record<string, any>> = [];
  const log = createLogger({ level: 'debug', stdout: false, streams: [{ write: (line: string) => void logs.push(JSON.parse(line)) }] });
  const { db, modules, close } = await boot(settings, log, { migrateNow: true, moduleDirs: options.moduleDirs ?? [join(ROOT, 'modules'), FIXTURES] });
  const lifecycle = { draining: false };
  const app = createApp({ settings, db, log, modules, lifecycle });
  const serving = await serve(app, lifecycle, { ...settings.http, host: '127.0.0.1', port: 0 }, log);
  const url = `http://127.0.0.1:${(serving.server.address() as AddressInfo).port}`;

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
    url, port: serving.port, server: serving.server, db, logs, lifecycle, call,
    async close() {
      await serving.drain();
      await close();
      for (const t of created) await t.drop();
    },
  };
}
