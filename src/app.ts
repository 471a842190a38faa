// The request pipeline, top to bottom in request order. It holds no logic of its own.
import Koa from 'koa';
import type { AppState } from '../lib/http/AppState';
import type { Lifecycle } from '../lib/http/Lifecycle';
import type { Databases } from '../lib/db/createDatabases';
import type { LoadedModule } from '../lib/modules/loadModules';
import type { Idempotency } from '../lib/idempotency/createIdempotency';
import type { Metrics } from '../lib/metrics/createMetrics';
import type { Settings } from './settings';
import type { AppLogger } from '../lib/log/createLogger';
import { requestId } from '../lib/http/requestId';
import { requestFinished } from '../lib/http/requestFinished';
import { handleErrors } from '../lib/errors/handleErrors';
import { compressWhenItPays } from '../lib/http/compressWhenItPays';
import { getRoutes } from '../lib/http/getRoutes';
import { healthRoutes } from '../lib/http/healthRoutes';
import { metricsRoutes } from '../lib/metrics/metricsRoutes';
import { docsRoutes } from '../lib/openapi/docsRoutes';
import { authenticate } from '../lib/auth/authenticate';
import { jwtVerifier } from '../lib/auth/jwtVerifier';
import { refuseWhileMigrating } from '../lib/http/refuseWhileMigrating';
import { runCall } from '../lib/calls/runCall';
import { callerShare } from '../lib/calls/callerShare';
import pkg from '../package.json';

export interface AppDeps {
  settings: Settings;
  db: Databases;
  log: AppLogger;
  modules: readonly LoadedModule[];
  lifecycle: Lifecycle;
  metrics: Metrics;
  idempotency: Idempotency;
}

export function createApp({ settings, db, log, modules, lifecycle, metrics, idempotency }: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>();
  app.silent = true; // every error is answered and logged by the pipeline below
  app.use(requestId()); //                                  X-Request-Id in, X-Request-Id out
  app.use(requestFinished(log.access, metrics)); //                when done: one access line and the metrics, one status
  app.use(handleErrors()); //                               anything thrown below → JSON error body
  app.use(compressWhenItPays({ threshold: 1024 })); //      large answers gzip/br when the caller accepts it
  app.use(getRoutes( //                                     the gateway's own paths, GET only (a call passes at once):
    healthRoutes(db, lifecycle), //                         GET /health, GET /ready: no token
    metricsRoutes(metrics, settings.metrics), //            GET /metrics: no token unless METRICS_TOKEN; not here with METRICS_PORT
    docsRoutes(modules, { title: 'dbapi', version: pkg.version }), // GET /openapi.json, /docs: no token
  ));
  app.use(authenticate(settings.callers, settings.jwt && jwtVerifier(settings.jwt, settings.callers, log))); // bearer token or JWT → caller, else 401
  app.use(refuseWhileMigrating(lifecycle)); //              503 until start-up migrations are done
  app.use(callerShare(settings.callerMaxConcurrent)); //    a caller over its maxConcurrent → 429, before any connection
  app.use(runCall({ //                                      POST /<module>/<action> and POST /_batch: lib/calls/runCall.ts
    modules, db, log, idempotency, body: settings.body, statementTimeoutMs: settings.db.statementTimeoutMs,
    maxBatchCalls: settings.batch.maxCalls, sendTimeoutMs: settings.http.sendTimeoutMs,
  }));
  return app; //                                            nothing matched → 404 (handleErrors)
}
