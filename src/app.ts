// The request pipeline, top to bottom in request order. It holds no logic of its own.
import Koa from 'koa';
import type { Logger } from 'pino';
import type { AppState } from '../lib/AppState';
import type { Databases } from '../lib/db/createDatabases';
import type { LoadedModule } from '../lib/loadModules';
import type { Lifecycle } from '../lib/healthRoutes';
import type { Settings } from './settings';
import { requestId } from '../lib/requestId';
import { accessLog } from '../lib/accessLog';
import { handleErrors } from '../lib/handleErrors';
import { compressWhenItPays } from '../lib/compressWhenItPays';
import { healthRoutes } from '../lib/healthRoutes';
import { authenticate } from '../lib/auth';
import { createActionRouter } from '../lib/createActionRouter';

export interface AppDeps {
  settings: Settings;
  db: Databases;
  log: Logger;
  modules: readonly LoadedModule[];
  lifecycle?: Lifecycle;
}

export function createApp({ settings, db, log, modules, lifecycle = { draining: false } }: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>();
  app.silent = true; // every error is answered and logged by the pipeline below
  app.use(requestId()); //                                  X-Request-Id in, X-Request-Id out
  app.use(accessLog(log)); //                               one access line per request
  app.use(handleErrors()); //                               anything thrown below → JSON error body
  app.use(compressWhenItPays({ threshold: 1024 })); //      large answers gzip/br when the caller accepts it
  app.use(healthRoutes(db, lifecycle).routes()); //         GET /health, GET /ready: no token
  app.use(authenticate(settings.callers)); //               bearer token → caller, else 401
  app.use(createActionRouter({ modules, db, log, body: settings.body })); //  POST /<module>/<action>
  return app; //                                            nothing matched → 404 (handleErrors)
}
