// The entry: settings, then the gateway (startGateway); SIGTERM/SIGINT drain it and exit 0.
import { loadSettings } from './settings';
import { failStart } from './failStart';
import { startGateway } from './startGateway';

async function main() {
  const settings = loadSettings();
  const gateway = await startGateway(settings);
  const { log } = gateway;

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    // Last resort if ending the pools hangs: the drain itself is bounded by SHUTDOWN_TIMEOUT_MS.
    setTimeout(() => {
      log.error('shutdown did not finish in time: exiting');
      void log.flushPending().finally(() => process.exit(1));
    }, settings.http.shutdownTimeoutMs + 15_000).unref();
    await gateway.stop();
    log.info('stopped');
    await log.flushPending();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch(failStart('dbapi'));
