// The gateway as a user runs it: a copy of the checkout, no DATABASE_URL, a module folder added with no other edit;
// data written on the embedded PostgreSQL is still there after a restart, and SIGTERM stops everything cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
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

async function start(): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', ENVIRONMENT: 'local' };
  delete env.DATABASE_URL;
  // node itself (not the tsx wrapper), so that SIGKILL below really kills the gateway.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const m = /dbapi listening on [\d.]+:(\d+)/.exec(out);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code}: ${stderr}`)));
  });
  return { child, url, exited };
}

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
