// The one composition root: builds a running gateway from settings. `npm start`, the fault gateway, the stream
// bench and the tests all start the gateway through it.
import type { Server } from 'node:http';
import type { DestinationStream } from 'pino';
import type { Settings } from './settings';
import type { Lifecycle } from '../lib/http/Lifecycle';
import type { Databases } from '../lib/db/createDatabases';
import type { LoadedModule } from '../lib/modules/loadModules';
import { createLogger, type AppLogger } from '../lib/log/createLogger';
import { createMetrics } from '../lib/metrics/createMetrics';
import { observeDatabases } from '../lib/metrics/observeDatabases';
import { observeReplicas } from '../lib/metrics/observeReplicas';
import { createIdempotency } from '../lib/idempotency/createIdempotency';
import { answerClientError } from '../lib/http/answerClientError';
import { boot } from './boot';
import { createApp } from './app';
import { serve } from './serve';
import { serveManagementPort, type ManagementPort } from '../lib/http/serveManagementPort';

export interface GatewayOptions {
  /** Where modules are found; default: `modules/` of the project. */
  moduleDirs?: readonly string[];
  /** Log destinations besides the log file (tests pass an in-memory sink); `stdout: false` leaves stdout out. */
  logStreams?: DestinationStream[];
  stdout?: boolean;
  /** Where to listen, instead of the settings' HOST and PORT (port 0: any free one). */
  listen?: { host?: string; port?: number };
  /** Apply migrations at start; default: MIGRATE_ON_START. */
  migrateNow?: boolean;
}

export interface Gateway {
  url: string;
  port: number;
  server: Server;
  db: Databases;
  modules: readonly LoadedModule[];
  log: AppLogger;
  lifecycle: Lifecycle;
  /** Drains the server (bounded by SHUTDOWN_TIMEOUT_MS), then ends the pools and stops the embedded database. */
  stop(): Promise<void>;
}

export async function startGateway(settings: Settings, o: GatewayOptions = {}): Promise<Gateway> {
  const log = createLogger({ level: settings.log.level, file: settings.log.file, streams: o.logStreams, stdout: o.stdout ?? true });
  const lifecycle: Lifecycle = { draining: false, migrating: false };
  const booted = await boot(settings, log, { lifecycle, migrateNow: o.migrateNow, moduleDirs: o.moduleDirs });
  const host = o.listen?.host ?? settings.host;
  let serving;
  let management: ManagementPort | undefined;
  if (settings.devToken) log.warn('the development token of env/local/.env is active (no other caller is configured): never use it beyond this machine');
  try {
    const metrics = createMetrics();
    const db = booted.db;
    observeDatabases(db, metrics, settings.db.poolMax); // the pool and commit metrics, read from the transaction counts
    observeReplicas(db, metrics);
    const idempotency = createIdempotency({ db, ttlS: settings.idempotency.ttlS });
    const app = createApp({ settings, db, log, modules: booted.modules, lifecycle, metrics, idempotency });
    const listen = { ...settings.http, host, port: o.listen?.port ?? settings.port };
    serving = await serve(app, lifecycle, listen, log, answerClientError(log, metrics));
    if (settings.metrics.port) management = await serveManagementPort({ metrics, access: settings.metrics, db, lifecycle }, host, settings.metrics.port);
  } catch (e) {
    await serving?.drain();
    await booted.close(); // a busy port, say: what was started (pools, the embedded database) is stopped again
    throw e;
  }
  const { server, port, drain } = serving;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port, server, db: booted.db, modules: booted.modules, log, lifecycle,
    async stop() {
      try {
        await drain(); // the management port stays open meanwhile: /ready answers 503 there too
      } finally {
        management?.close();
        await booted.close();
      }
    },
  };
}
