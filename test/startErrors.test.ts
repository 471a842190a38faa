// A start that fails on a module says so in exactly one line on stderr and exits 1 (no logger crash, no loader stack),
// whatever the module's fault. Runs `src/main.ts` as `npm start` does, in a folder of its own with a log file.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/startTestApp';
import { scratchDir } from './support/scratchDir';

function startIn(modules: Record<string, string | null>, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const dir = scratchDir('start');
  for (const [name, source] of Object.entries(modules)) {
    mkdirSync(join(dir, 'modules', name), { recursive: true });
    if (source !== null) writeFileSync(join(dir, 'modules', name, 'index.ts'), source);
  }
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'main.ts')], {
    cwd: dir, env: { ...process.env, ENVIRONMENT: 'local', PORT: '0', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

const table = (body: string) => `import { z } from 'zod';\nimport { action } from '#dbapi';\nexport default { ${body} };\n`;

const CASES: Array<[string, Record<string, string | null>, string]> = [
  // The logger's file was not open yet when the start failed: pino's exit flush threw "sonic boom is not ready yet".
  ['an action without a handler', { pings: table('hi: action({} as any)') }, 'dbapi: pings/hi: an action needs a handler function'],
  // tsx's compile error came with esbuild's stack (loadModules.test.ts has the other faults, in-process).
  ['a module that does not compile', { pings: 'export default { hi: ( };\n' }, 'dbapi: modules/pings: cannot be loaded: modules/pings/index.ts:1:23: Unexpected "}"'],
];

// The starts run side by side (each is a node process of about a second).
const results = new Map<string, Promise<{ code: number | null; stderr: string }>>();
beforeAll(() => {
  for (const [name, modules] of CASES) results.set(name, startIn(modules));
});

test.each(CASES)('%s: one line on stderr, exit 1', async (name, _modules, line) => {
  expect(await results.get(name)).toEqual({ code: 1, stderr: `${line}\n` });
});
