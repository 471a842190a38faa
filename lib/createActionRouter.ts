// Builds the router: POST /<module>/<action> runs the action; any other method on an action path is 405.
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppState } from './AppState';
import type { Databases } from './db/createDatabases';
import type { LoadedAction, LoadedModule } from './loadModules';
import type { BodyLimits } from './readJsonBody';
import { ApiError } from './errors';
import { readJsonBody } from './readJsonBody';
import { encodeJson } from './encodeJson';
import { checkScope } from './checkScope';
import { parseParams } from './parseParams';
import { callHandler } from './callHandler';
import { runTransaction } from './runTransaction';
import { wantsDryRun } from './dryRun';
import { isAsyncIterable } from './stream/isAsyncIterable';
import { streamResult } from './stream/streamResult';

export interface ActionRouterDeps {
  modules: readonly LoadedModule[];
  db: Databases;
  log: Logger;
  body: BodyLimits;
}

const METHOD_NOT_ALLOWED = () => {
  throw new ApiError('method_not_allowed', { headers: { Allow: 'POST' } });
};

export function createActionRouter({ modules, db, log, body }: ActionRouterDeps): Router<AppState> {
  const router = new Router<AppState>();
  for (const action of modules.flatMap((m) => m.actions)) {
    router.post(action.path, runAction(action, db, log, body));
    router.all(action.path, METHOD_NOT_ALLOWED);
  }
  return router;
}

/** The per-action middleware, built once at start: scope → body → params → transaction → handler → JSON or stream. */
function runAction(action: LoadedAction, db: Databases, log: Logger, body: BodyLimits): Middleware<AppState> {
  const { id, database, readOnly } = action;
  return async (ctx) => {
    ctx.state.action = id;
    const caller = ctx.state.caller!;
    checkScope(caller, id);
    const params = parseParams(action, await readJsonBody(ctx, body));
    const rollback = wantsDryRun(ctx);
    const result = await runTransaction(db, database, { readOnly, rollback }, async (tx) => {
      const value = await callHandler(action, { params, caller, tx, log, requestId: ctx.state.requestId });
      if (!isAsyncIterable(value)) return value;
      await streamResult(ctx, value); // inside the transaction: it commits only after the last row is sent
      return STREAMED;
    });
    if (result === STREAMED) return;
    ctx.type = 'application/json';
    ctx.body = encodeJson(result);
  };
}

const STREAMED = Symbol('streamed');
