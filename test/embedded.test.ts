// The gateway as a user runs it: a copy of the checkout, no DATABASE_URL, a module folder added with no other edit;
// data written on the embedded PostgreSQL is still there after a restart, and SIGTERM stops everything cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { ROOT } from './support/startTestApp';
import { scratchDir } from './support/scratchDir';

const TOKEN = /^BEARER=(.+)$/m.exec(readFileSync(join(ROOT, 'env', 'local', '.env'), 'utf8'))![1];
let dir: string;

beforeAll(() => {
  dir = scratchDir('checkout');
  for (const entry of ['src', 'lib', 'modules', 'env', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'modules', 'notes', 'migrations'), { recursive: true });
  writeFileSync(join(dir, 'modules', 'notes', 'migrations', '001_notes.sql'), 'create table notes (id serial primary key, body text not null);\n');
  writeFileSync(join(dir, 'modules', 'notes', 'index.ts'), `
import { z } from 'zod';
import { action } from '#dbapi';
export default {
  add: action({ params: z.object({ body: z.string() }), handler: async ({ params, tx }) => (await tx\`insert into notes (body) values (\${params.body}) returning id\`)[0] }),
  list: action({ readOnly: true, handler: ({ tx }) => tx\`select id, body from notes order by id\` }),
};
`);
});

interface Started { child: ChildProcess; url: string; exited: Promise<number | null>; output: () => string }

const gatewayEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  // A short drain: fetch keeps its connections open, and a drain waits for them up to SHUTDOWN_TIMEOUT_MS.
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', ENVIRONMENT: 'local', SHUTDOWN_TIMEOUT_MS: '500', ...extra };
  delete env.DATABASE_URL;
  return env;
};

function run(script: string, extra?: NodeJS.ProcessEnv) {
  // node itself (not the tsx wrapper), so that SIGKILL below really kills the gateway.
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: dir, env: gatewayEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

async function start(): Promise<Started> {
  const { child, exited, stdout, stderr } = run('src/main.ts');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const m = /dbapi listening on [\d.]+:(\d+)/.exec(stdout());
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code}: ${stderr()}`)));
  });
  return { child, url, exited, output: stdout };
}

const until = async (what: () => boolean, ms = 10_000) => {
  for (const end = Date.now() + ms; !what() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
  return what();
};
const postmasterPid = () => Number(readFileSync(join(dir, '.data', 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
const pgRunning = () => existsSync(join(dir, '.data', 'postgres', 'postmaster.pid'));

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('embedded database: a new module is served, its row survives a restart, SIGTERM exits 0', async () => {
  const first = await start();
  expect((await post(`${first.url}/notes/add`, { body: 'kept across restarts' })).status).toBe(200);
  expect((await post(`${first.url}/example/bar`, { name: 'zoe' })).status).toBe(200);
  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);
  expect(existsSync(join(dir, '.data', 'postgres', 'postmaster.pid'))).toBe(false); // the database stopped too

  const second = await start();
  const res = await post(`${second.url}/notes/list`, {});
  expect(await res.json()).toEqual([{ id: 1, body: 'kept across restarts' }]);
  const log = readFileSync(join(dir, 'logs', 'dbapi.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(log.filter((l) => l.url?.path === '/notes/add')).toHaveLength(1);
  // Killed without a chance to stop its database: the next start takes over the data folder all the same.
  second.child.kill('SIGKILL');
  await second.exited;
  const third = await start();
  try {
    expect((await post(`${third.url}/notes/add`, { body: 'after a kill' })).status).toBe(200);
    expect(await (await post(`${third.url}/notes/list`, {})).json()).toHaveLength(2);
  } finally {
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  }
}, 90_000);

test('a second process in the same checkout shares the running embedded database; the last one out stops it', async () => {
  const first = await start();
  try {
    // `npm run migrate` beside a running gateway: it connects to the gateway's database and leaves it running.
    const migrate = run('src/migrate.ts');
    expect([await migrate.exited, migrate.stdout(), migrate.stderr()]).toEqual([0, 'dbapi migrate: nothing pending (database default up to date)\n', '']);
    expect((await post(`${first.url}/example/bar`, { name: 'after migrate' })).status).toBe(200);
    // A second gateway shares it too, and keeps it when the first one stops.
    const second = await start();
    expect(second.output()).toMatch(/already running for this checkout: sharing it/);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect((await post(`${second.url}/example/bar`, { name: 'after the first stopped' })).status).toBe(200);
    // The last one out (here the one that did not start it) stops it.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(pgRunning()).toBe(false);
  } finally {
    first.child.kill('SIGKILL');
  }
}, 60_000);

test('a gateway whose embedded database is stopped from outside says so in its log', async () => {
  const gateway = await start();
  try {
    process.kill(postmasterPid(), 'SIGINT');
    expect(await until(() => /the embedded PostgreSQL \(pid \d+\) stopped from outside this gateway/.test(gateway.output()))).toBe(true);
  } finally {
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  }
}, 30_000);

test('a busy port stops the start with one line, and the embedded database it started is stopped again', async () => {
  const busy = createServer().listen(0, '127.0.0.1');
  await once(busy, 'listening');
  const port = (busy.address() as AddressInfo).port;
  try {
    const gateway = run('src/main.ts', { PORT: String(port) });
    expect(await gateway.exited).toBe(1);
    expect(gateway.stderr()).toBe(`dbapi: port ${port} on 127.0.0.1 is already in use (another dbapi?): stop what uses it, or set PORT to another port (PORT=0: any free one)\n`);
    expect(gateway.stdout()).toMatch(/embedded PostgreSQL started/);
    expect(pgRunning()).toBe(false);
  } finally {
    busy.close();
  }
}, 30_000);
