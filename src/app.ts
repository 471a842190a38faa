// The request pipeline, top to bottom in request order. It holds no logic of its own.
import Koa from 'koa';
import type { Logger } from 'pino';
import type { AppState } from '../lib/AppState';
import type { Databases } from '../lib/db/createDatabases';
import type { LoadedModule } from '../lib/loadModules';
import type { Lifecycle } from '../lib/Lifecycle';
import type { Settings } from './settings';
import { requestId } from '../lib/requestId';
import { accessLog } from '../lib/accessLog';
import { handleErrors } from '../lib/handleErrors';
import { compressWhenItPays } from '../lib/compressWhenItPays';
import { healthRoutes } from '../lib/healthRoutes';
import { authenticate } from '../lib/auth';
import { refuseWhileMigrating } from '../lib/refuseWhileMigrating';
import { createActionRouter } from '../lib/createActionRouter';
import { createIdempotency } from '../lib/idempotency/createIdempotency';
import { createMetrics } from '../lib/metrics/createMetrics';
import { observeDatabases } from '../lib/metrics/observeDatabases';
import { recordRequests } from '../lib/metrics/recordRequests';
import { metricsRoutes } from '../lib/metrics/metricsRoutes';
import { docsRoutes } from '../lib/openapi/docsRoutes';
import { batchRoutes } from '../lib/batch/batchRoutes';
import pkg from '../package.json';

export interface AppDeps {
  settings: Settings;
  db: Databases;
  log: Logger;
  modules: readonly LoadedModule[];
  lifecycle: Lifecycle;
}

export function createApp({ settings, db, log, modules, lifecycle }: AppDeps): Koa<AppState> {
  const metrics = createMetrics();
  const counted = observeDatabases(db, metrics, settings.db.poolMax); // transactions feed the pool and commit metrics
  const idempotency = createIdempotency({ db: counted, ttlS: settings.idempotency.ttlS }); // Idempotency-Key answers
  const calls = { modules, db: counted, log, body: settings.body, idempotency };
  const app = new Koa<AppState>();
  app.silent = true; // every error is answered and logged by the pipeline below
  app.use(requestId()); //                                  X-Request-Id in, X-Request-Id out
  app.use(accessLog(log)); //                               one access line per request
  app.use(recordRequests(metrics)); //                      request counter and latency, by action and caller
  app.use(handleErrors()); //                               anything thrown below → JSON error body
  app.use(compressWhenItPays({ threshold: 1024 })); //      large answers gzip/br when the caller accepts it
  app.use(healthRoutes(db, lifecycle).routes()); //         GET /health, GET /ready: no token
  app.use(metricsRoutes(metrics).routes()); //              GET /metrics: no token
  app.use(docsRoutes(modules, { title: 'dbapi', version: pkg.version }).routes()); // GET /openapi.json, /docs: no token
  app.use(authenticate(settings.callers)); //               bearer token → caller, else 401
  app.use(refuseWhileMigrating(lifecycle)); //              503 until start-up migrations are done
  app.use(batchRoutes({ ...calls, maxCalls: settings.batch.maxCalls, statementTimeoutMs: settings.db.statementTimeoutMs }).routes()); // POST /_batch: one transaction
  app.use(createActionRouter(calls)); //                    POST /<module>/<action>
  return app; //                                            nothing matched → 404 (handleErrors)
}
