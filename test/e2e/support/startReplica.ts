// Runs one gateway replica as a real process (node + tsx, as the image does) and waits until it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../../../lib/http/freePort';
export { freePort };

export const ROOT = join(__dirname, '..', '..', '..');

export interface Replica {
  port: number;
  logFile: string;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  stderr(): string;
}

export interface ReplicaOptions {
  port: number;
  logFile: string;
  env: Record<string, string>;
}

export async function startReplica({ port, logFile, env }: ReplicaOptions): Promise<Replica> {
  // node --import tsx, not the tsx wrapper: signals (SIGTERM, SIGKILL) must reach the gateway process itself.
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1', LOG_FILE: logFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const replica = { port, logFile, child, exited, stderr: () => err };
  await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error(`replica on ${port} exited: ${err}`);
    return (await status(`http://127.0.0.1:${port}/ready`)) === 200;
  }, 30_000, `replica on port ${port} ready`);
  return replica;
}

/** A GET on a connection of its own that closes after it: no idle socket is left to slow a later drain. */
function status(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    get(url, { agent: false }, (res) => res.resume().on('end', () => resolve(res.statusCode))).on('error', () => resolve(undefined));
  });
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

