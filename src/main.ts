// The entry: settings, logger, database and modules, then the server; SIGTERM/SIGINT drain it and exit 0.
import { loadSettings, SettingsError } from './settings';
import { createLogger } from '../lib/createLogger';
import { boot } from './boot';
import { createApp } from './app';
import { serve } from './serve';

async function main() {
  const settings = loadSettings();
  const log = createLogger({ level: settings.log.level, file: settings.log.file });
  const { db, modules, close } = await boot(settings, log);
  const lifecycle = { draining: false };
  const app = createApp({ settings, db, log, modules, lifecycle });
  const serving = await serve(app, lifecycle, { host: settings.host, port: settings.port, ...settings.http }, log);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    // Last resort if ending the pools hangs: the drain itself is bounded by SHUTDOWN_TIMEOUT_MS.
    setTimeout(() => {
      log.error('shutdown did not finish in time: exiting');
      log.flush();
      process.exit(1);
    }, settings.http.shutdownTimeoutMs + 15_000).unref();
    await serving.drain();
    await close();
    log.info('stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  // Settings, module and migration errors are one clear line; anything else keeps its stack.
  const known = e instanceof SettingsError || ['ModuleError', 'MigrationError'].includes(e?.name);
  process.stderr.write(`dbapi: ${known ? e.message : e?.stack ?? e}\n`);
  process.exit(1);
});
