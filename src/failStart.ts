// Ends a start that failed with exactly one line on stderr: settings, module and migration errors as they are, a busy
// port in words, anything else as its message and where it was thrown (no stack). Written synchronously, then exit 1.
import { SettingsError } from './settings';
import { ModuleError } from '../lib/modules/loadModules';
import { MigrationError } from '../lib/db/migrate';

export function failStart(program: string) {
  return (e: unknown): never => {
    const line = `${program}: ${startErrorLine(e)}\n`;
    // Written on exit, after the log's exit hook (lib/log/createLogger.ts) has flushed the lines still batched: the
    // cause is the last thing on the terminal, not buried above them.
    process.once('exit', () => process.stderr.write(line));
    process.exit(1);
  };
}

export function startErrorLine(e: unknown): string {
  if (e instanceof SettingsError || e instanceof ModuleError || e instanceof MigrationError) return oneLine(e.message);
  const sys = e as NodeJS.ErrnoException & { address?: string; port?: number };
  if (sys?.syscall === 'listen' && sys.code === 'EADDRINUSE') {
    return `port ${sys.port} on ${sys.address} is already in use (another dbapi?): stop what uses it, or set PORT to another port (PORT=0: any free one)`;
  }
  if (sys?.syscall === 'listen' && sys.code === 'EACCES') return `not allowed to listen on port ${sys.port} on ${sys.address}: set PORT to 1024 or above`;
  if (!(e instanceof Error)) return oneLine(String(e));
  const at = /\((\/[^()\s]+:\d+:\d+)\)$|at (\/\S+:\d+:\d+)$/m.exec(e.stack ?? '');
  return oneLine(`${e.message}${at ? ` (at ${at[1] ?? at[2]})` : ''}`);
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
