// The module author's loop, as the README tells it, on a copy of the checkout: `npm run dev` running → a module folder
// with a migration added by hand → served within seconds, with no hand restart and no other edit → in /openapi.json with
// an example its params schema accepts → the call answers 200 → a second migration is applied → `client.notes.add()`
// type-checks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { ROOT } from './support/startTestApp';
import { scratchDir } from './support/scratchDir';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

const TOKEN = /^BEARER=(.+)$/m.exec(readFileSync(join(ROOT, 'env', 'local', '.env'), 'utf8'))![1];
let dir: string;
let database: TestDatabase;
let dev: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  dir = scratchDir('loop');
  for (const entry of ['src', 'lib', 'modules', 'env', 'client', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  database = await createTestDatabase(); // a database of its own rather than an embedded one: no initdb to wait for
});

afterAll(async () => {
  if (dev?.exitCode === null) {
    const exited = new Promise((resolve) => dev!.once('exit', resolve));
    process.kill(-dev.pid!, 'SIGINT'); // Ctrl-C: the whole group, npm, tsx watch and the gateway
    await exited;
  }
  await database?.drop();
});

/** The port of the gateway's latest start (`PORT=0`: each restart takes a new one). */
const latestUrl = () => [...output.matchAll(/dbapi listening on [\d.]+:(\d+)/g)].map((m) => `http://127.0.0.1:${m[1]}`).pop();

async function until<T>(what: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 200))) {
    const value = await what();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`not within ${ms} ms; npm run dev said:\n${output}`);
  }
}

const post = (path: string, body: unknown) => fetch(latestUrl() + path, {
  method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify(body),
}).catch(() => undefined);

test('npm run dev serves a module folder added by hand, documented, typed and callable', async () => {
  dev = spawn('npm', ['run', 'dev'], {
    cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ENVIRONMENT: 'local', HOST: '127.0.0.1', PORT: '0', DATABASE_URL: database.url, MIGRATE_ON_START: 'true', SHUTDOWN_TIMEOUT_MS: '500' },
  });
  dev.stdout!.on('data', (c) => (output += c));
  dev.stderr!.on('data', (c) => (output += c));
  const first = await until(latestUrl, 20_000);
  expect(output).toMatch(/dbapi listening on 127\.0\.0\.1:\d+ \(docs: http:\/\/127\.0\.0\.1:\d+\/docs\)/); // where the docs are

  // The README's "Adding a module", by hand: a migration, then the route table.
  mkdirSync(join(dir, 'modules', 'notes', 'migrations'), { recursive: true });
  writeFileSync(join(dir, 'modules', 'notes', 'migrations', '001_notes.sql'), 'create table notes (id serial primary key, body text not null);\n');
  writeFileSync(join(dir, 'modules', 'notes', 'index.ts'), `import { z } from 'zod';
import { action } from '#dbapi';
export default {
  add: action({
    params: z.object({ body: z.string().min(1).max(10_000), email: z.email().optional() }),
    handler: async ({ params, tx }) => (await tx\`insert into notes (body) values (\${params.body}) returning id\`)[0] as { id: number },
  }),
  list: action({ readOnly: true, handler: ({ tx }) => tx\`select id, body from notes order by id\` }),
};
`);
  // Served after the watcher's restart (about 2 s here; the bound is for a loaded machine, not a speed test).
  await until(async () => ((await post('/notes/list', {}))?.status === 200 ? true : undefined), 20_000);
  expect(latestUrl()).not.toBe(first); // restarted by the watcher

  const doc = (await (await fetch(`${latestUrl()}/openapi.json`)).json()) as any;
  const example = doc.paths['/notes/add'].post.requestBody.content['application/json'].example;
  expect(example).toEqual({ body: expect.any(String), email: 'ann@example.com' });
  const res = await post('/notes/add', example); // the gateway validates it with the action's own params schema
  expect([res!.status, await res!.json()]).toEqual([200, { id: 1 }]);

  // A new migration in an existing module is applied too (a restart by the watcher).
  writeFileSync(join(dir, 'modules', 'notes', 'migrations', '002_notes_done.sql'), 'alter table notes add column done boolean not null default false;\n');
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    await until(async () => ((await sql`select 1 from dbapi_migrations where module = 'notes' and name = '002_notes_done.sql'`).length ? true : undefined), 20_000);
  } finally {
    await sql.end();
  }

  // The typed client knows the new module with no hand edit: npm run dev rewrote client/modules.ts.
  writeFileSync(join(dir, 'check.ts'), `import { createClient } from './client';
const api = createClient({ baseUrl: 'http://127.0.0.1:1', token: 't' });
export async function check(): Promise<number> {
  // @ts-expect-error: body is required
  await api.notes.add({});
  const rows = await api.notes.list();
  return (await api.notes.add({ body: 'typed' })).id + rows.length;
}
`);
  writeFileSync(join(dir, 'tsconfig.check.json'), '{ "extends": "./tsconfig.json", "include": ["check.ts"] }\n');
  const tsc = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', 'tsconfig.check.json'], { cwd: dir, encoding: 'utf8' });
  expect([tsc.status, tsc.stdout]).toEqual([0, '']);
}, 60_000);
