// Builds the router: POST /<module>/<action> runs the action; any other method on an action path is 405.
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppState } from './AppState';
import type { Databases } from './db/createDatabases';
import type { LoadedAction, LoadedModule } from './loadModules';
import type { BodyLimits } from './readJsonBody';
import { ApiError } from './errors';
import { isAllowed } from './auth';
import { readJsonBody } from './readJsonBody';
import { invalidParams } from './invalidParams';
import { answerCall } from './answerCall';
import { createIdempotency, type Idempotency } from './idempotency/createIdempotency';

export interface ActionRouterDeps {
  modules: readonly LoadedModule[];
  db: Databases;
  log: Logger;
  body: BodyLimits;
  /** Stored answers for Idempotency-Key; default: kept 24 h. */
  idempotency?: Idempotency;
}

const METHOD_NOT_ALLOWED = () => {
  throw new ApiError('method_not_allowed', { headers: { Allow: 'POST' } });
};

export function createActionRouter({ modules, db, log, body, idempotency = createIdempotency({ db, ttlS: 86_400 }) }: ActionRouterDeps): Router<AppState> {
  const router = new Router<AppState>();
  for (const action of modules.flatMap((m) => m.actions)) {
    router.post(action.path, runAction(action, db, log, body, idempotency));
    router.all(action.path, METHOD_NOT_ALLOWED);
  }
  return router;
}

/** The per-action middleware, built once at start: scope → body → params → transaction → handler → JSON. */
function runAction(action: LoadedAction, db: Databases, log: Logger, body: BodyLimits, idempotency: Idempotency): Middleware<AppState> {
  const { id, params: schema, handler } = action;
  return async (ctx) => {
    ctx.state.action = id;
    const caller = ctx.state.caller!;
    if (!isAllowed(caller, id)) throw new ApiError('forbidden');
    const parsed = schema.safeParse(await readJsonBody(ctx, body));
    if (!parsed.success) throw invalidParams(parsed.error);
    let child: Logger | undefined; // made only when the handler logs
    const context = {
      params: parsed.data,
      caller,
      get log() {
        return (child ??= log.child({ http: { request: { id: ctx.state.requestId } }, user: { name: caller.name }, dbapi: { action: id } }));
      },
    };
    await answerCall(ctx, action, parsed.data, { db, idempotency }, (tx) => handler({ ...context, tx: tx as never }));
  };
}
