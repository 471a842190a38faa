// POST /_batch: several calls in ONE transaction on one database; all commit, or none does and the error names the call.
import Router from '@koa/router';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { AppState } from '../AppState';
import type { Databases } from '../db/createDatabases';
import type { LoadedAction, LoadedModule } from '../loadModules';
import type { BodyLimits } from '../readJsonBody';
import { ApiError } from '../errors';
import { readJsonBody } from '../readJsonBody';
import { invalidParams } from '../invalidParams';
import { checkScope } from '../checkScope';
import { parseParams } from '../parseParams';
import { callHandler } from '../callHandler';
import { wantsDryRun } from '../dryRun';
import { answerCall } from '../answerCall';
import { methodNotAllowed } from '../methodNotAllowed';
import { batchTransaction } from './batchTransaction';
import { noTransaction } from '../noTransaction';
import type { Idempotency } from '../idempotency/createIdempotency';
import { toApiError } from '../toApiError';
import { isAsyncIterable } from '../stream/isAsyncIterable';
import { collect } from '../stream/collect';

export interface BatchDeps {
  modules: readonly LoadedModule[];
  db: Databases;
  log: Logger;
  body: BodyLimits;
  maxCalls: number;
  idempotency: Idempotency;
  /** The pool's statement timeout (DB_STATEMENT_TIMEOUT_MS), for calls that declare none. */
  statementTimeoutMs: number;
}

export const BATCH_ID = '_batch';

export function batchRoutes({ modules, db, log, body, maxCalls, idempotency, statementTimeoutMs }: BatchDeps): Router<AppState> {
  const actions = new Map(modules.flatMap((m) => m.actions).map((a) => [a.id, a]));
  const request = z.strictObject({
    calls: z.array(z.strictObject({ action: z.string(), params: z.record(z.string(), z.unknown()).default({}) })).min(1).max(maxCalls),
  });
  const router = new Router<AppState>();
  router.post(`/${BATCH_ID}`, async (ctx) => {
    ctx.state.action = BATCH_ID;
    const caller = ctx.state.caller!;
    const parsed = request.safeParse(await readJsonBody(ctx, body));
    if (!parsed.success) throw invalidParams(parsed.error);
    // Every call is resolved, scope-checked and validated before a connection is taken.
    const calls = parsed.data.calls.map((call, index) => atCall(index, call.action, () => {
      const action = actions.get(call.action.replace(/^\//, ''));
      if (!action) throw new ApiError('not_found');
      checkScope(caller, action.id);
      return { action, params: parseParams(action, call.params) };
    }));
    // Actions declared `database: false` run in whichever transaction the others use.
    const databases = new Set(calls.map((c) => c.action.database).filter((d) => d !== false));
    if (databases.size > 1) {
      throw new ApiError('invalid_params', {
        message: 'All calls of a batch must use one database',
        details: calls.map((c, index) => ({ index, action: c.action.id, database: c.action.database })),
      });
    }
    const rollback = wantsDryRun(ctx);
    // Only the calls that use a database shape the transaction; a batch of `database: false` calls opens none.
    const usingDb = calls.filter((c) => c.action.database !== false);
    const transaction = batchTransaction(usingDb.map((c) => c.action.transaction), statementTimeoutMs);
    const target = { id: BATCH_ID, database: usingDb.length > 0 ? [...databases][0] : (false as const), transaction };
    // Through answerCall like a single call: an Idempotency-Key makes a retried batch replay, not run twice.
    await answerCall(ctx, target, parsed.data.calls, { db, idempotency, rollback }, async (tx) => {
      const results: unknown[] = [];
      for (const [index, { action, params }] of calls.entries()) {
        results.push(await atCallAsync(index, action.id, async () => {
          const callTx = action.database === false ? noTransaction : tx; // as when called alone: no tx
          const value = await callHandler(action, { params, caller, tx: callTx, log, requestId: ctx.state.requestId });
          return isAsyncIterable(value) ? collect(value) : value; // a batch answers one JSON body: streams are gathered
        }));
      }
      return { results };
    });
  });
  router.all(`/${BATCH_ID}`, methodNotAllowed);
  return router;
}

/** Names the failing call in the error: `details.index` (0-based), `details.action`, and the call's own details. */
function nameCall(index: number, actionId: string, thrown: unknown): ApiError {
  const e = toApiError(thrown);
  return new ApiError(e.code, {
    message: `calls[${index}] (${actionId}): ${e.message}`,
    details: { index, action: actionId, ...(e.details === undefined ? {} : { details: e.details }) },
    headers: e.headers,
    cause: e.cause ?? e,
  });
}

function atCall<T>(index: number, actionId: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw nameCall(index, actionId, e);
  }
}

async function atCallAsync<T>(index: number, actionId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw nameCall(index, actionId, e);
  }
}
