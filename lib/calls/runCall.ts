// The steps of one call, top to bottom: resolve → scope → body → params → dry run → idempotency → transaction
// options → handler → encode or stream. POST /_batch runs the same steps for each of its calls, in one transaction.
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AppContext, AppState } from '../http/AppState';
import type { Databases, TransactionDeadline } from '../db/createDatabases';
import type { Tx } from '../db/Tx';
import type { LoadedAction, LoadedModule } from '../modules/loadModules';
import type { Caller } from '../auth/Caller';
import type { Idempotency } from '../idempotency/createIdempotency';
import type { BodyLimits } from '../http/readJsonBody';
import { readJsonBody } from '../http/readJsonBody';
import { methodNotAllowed } from '../http/methodNotAllowed';
import { GATEWAY_PATHS } from '../http/gatewayPaths';
import { checkScope } from '../auth/checkScope';
import { transactionSettings } from '../auth/transactionSettings';
import { checkIdempotencyKey } from '../idempotency/createIdempotency';
import { ApiError } from '../errors/ApiError';
import { toApiError } from '../errors/toApiError';
import { isAsyncIterable } from '../stream/isAsyncIterable';
import { isPendingQuery } from '../db/isPendingQuery';
import { streamResult } from '../stream/streamResult';
import { collect } from '../stream/collect';
import { invalidParams } from './invalidParams';
import { wantsDryRun } from './wantsDryRun';
import { transactionPlanner } from './transactionPlanner';
import { noTransaction } from './noTransaction';
import { encodeJson } from './encodeJson';
import { requestDeadline } from './requestDeadline';
import { readConsistency } from './readConsistency';

export interface CallDeps {
  modules: readonly LoadedModule[];
  db: Databases;
  log: Logger;
  body: BodyLimits;
  /** Stored answers for Idempotency-Key. */
  idempotency: Idempotency;
  /** The pool's statement timeout (DB_STATEMENT_TIMEOUT_MS), for calls that declare none. */
  statementTimeoutMs: number;
  /** Calls in one POST /_batch (BATCH_MAX_CALLS). */
  maxBatchCalls: number;
  /** A streamed answer whose reader takes nothing for this long is cut off (SEND_TIMEOUT_MS). */
  sendTimeoutMs: number;
}

/** A call of a batch as sent (already checked by the batch's schema). */
type SentCall = { action: string; params?: unknown };

/** One call: an action and its validated params; `index` names it within a batch. */
interface Call {
  index?: number;
  action: LoadedAction;
  params: unknown;
}

export const BATCH_ID = GATEWAY_PATHS.batch.slice(1);
// Longer than any module/action id (63 + 1 + 63), short enough never to echo a large string back.
const MAX_ACTION_CHARS = 128;
const STREAMED = Symbol('streamed');
// Set as a header: koa's `ctx.type =` looks the type up in the MIME table on every call, and node's setHeader, not
// koa's ctx.set, which builds arrays per header.
const JSON_TYPE = 'application/json; charset=utf-8';

/** The middleware for POST /<module>/<action> and POST /_batch: every call goes through `call` below. */
export function runCall(deps: CallDeps): Middleware<AppState> {
  const { db, log, idempotency, sendTimeoutMs } = deps;
  // Actions are found by their exact path in a Map built at start (no per-route regular expressions per call).
  const byPath = new Map(deps.modules.flatMap((m) => m.actions).map((a) => [a.path, a]));
  const byId = new Map([...byPath.values()].map((a) => [a.id, a]));
  const planTransaction = transactionPlanner(deps);
  const batchRequest = z.strictObject({
    // params are passed on as sent, so the action's own (strict) schema judges them exactly as in a single call.
    calls: z.array(z.strictObject({ action: z.string().max(MAX_ACTION_CHARS), params: z.unknown().optional() })).min(1).max(deps.maxBatchCalls),
  });

  return async function call(ctx, next) {
    const arrived = performance.now();
    // 1. resolve: an action by its exact path, or the batch; anything else falls through (404 or another route).
    const action = byPath.get(ctx.path);
    if (!action && ctx.path !== GATEWAY_PATHS.batch) return next();
    if (ctx.method !== 'POST') methodNotAllowed();
    ctx.state.action = action ? action.id : BATCH_ID;
    const caller = ctx.state.caller!;
    // 2. scope: a single call is refused before its body is read; a batch's calls once they are known (step 4).
    if (action) checkScope(caller, action.id);
    // 3. body: a JSON object within the limits.
    const body = await readJsonBody(ctx, deps.body);
    // 4. params: every call resolved, scope-checked and validated, before any connection is taken.
    const calls: Call[] = action ? [{ action, params: parseParams(action, body) }] : resolveBatch(body, caller);
    // 5. dry run: `Prefer: tx=rollback`, for callers allowed to.
    const rollback = wantsDryRun(ctx);
    // 6. idempotency: a valid Idempotency-Key, if sent.
    const key = ctx.get('idempotency-key');
    if (key) checkIdempotencyKey(key);
    // 6b. deadline: `Request-Timeout: <ms>`, the caller's budget for the call, counted from its arrival.
    const deadline = requestDeadline(ctx.get('request-timeout'), arrived);
    // 7. transaction options: which database and how, from what the calls' actions declare (decided there alone).
    const plan = planTransaction(calls.map((c) => c.action), rollback, deadline);
    // Who called (dbapi.caller, dbapi.claims, the caller's role), sent with BEGIN: the plan stays cached per action.
    const options = plan.database === false ? plan.options : { ...plan.options, settings: transactionSettings(caller) };
    // Read-your-writes: reads wait for the LSN the caller sent (Dbapi-Min-Lsn); a write answers its own (Dbapi-Lsn).
    const consistency = readConsistency(ctx);
    // A key's first answer is stored in the call's own transaction and replayed after. A read-only call changes
    // nothing (running it again is already safe) and a call without a database has no transaction to store it in:
    // their key is checked, not stored.
    if (key && plan.database !== false && !plan.options.readOnly) {
      const answer = await idempotency.call({
        database: plan.database, caller: caller.name, key, action: ctx.state.action, options,
        // A batch is compared by its calls as sent (as it always was, so keys stored before an upgrade still replay).
        params: action ? calls[0].params : (body.calls as SentCall[]).map(({ action: id, params = {} }) => ({ action: id, params })),
        // 8. + 9. the handlers, encoded as one JSON body (a stream is gathered: the stored answer is one body).
        run: async (tx) => encodeJson(await collected(run(ctx, calls, tx))),
        consistency,
      });
      if (consistency.lsn) ctx.set('Dbapi-Lsn', consistency.lsn);
      ctx.status = answer.status;
      ctx.res.setHeader('Content-Type', JSON_TYPE);
      if (answer.replayed) ctx.set('Idempotency-Replayed', 'true');
      ctx.body = answer.body;
      return;
    }
    // 8. the handlers, in the transaction (none for `database: false`: no connection is taken at all).
    // 9. encode, or stream inside the transaction: it commits only after the last item is sent.
    const result = plan.database === false
      ? await answer(ctx, calls, noTransaction)
      : await db.transaction(plan.database, options, (tx, deadline) => answer(ctx, calls, tx, deadline), consistency);
    if (result === STREAMED) return; // its headers left before the commit: a streamed write carries no Dbapi-Lsn
    if (consistency.lsn) ctx.set('Dbapi-Lsn', consistency.lsn);
    ctx.res.setHeader('Content-Type', JSON_TYPE);
    ctx.body = encodeJson(result);
  };

  /** The batch's calls, each resolved by its action id, scope-checked and validated; a failure names its call. */
  function resolveBatch(body: Record<string, unknown>, caller: Caller): Call[] {
    const parsed = batchRequest.safeParse(body);
    if (!parsed.success) throw invalidParams(parsed.error);
    return parsed.data.calls.map(({ action: id, params = {} }, index) => atCall(index, id, () => {
      const action = byId.get(id.replace(/^\//, ''));
      if (!action) throw new ApiError('not_found');
      checkScope(caller, action.id);
      return { index, action, params: parseParams(action, params) };
    }));
  }

  /**
   * The handlers' value, or STREAMED once a single call's async iterable has been sent. A single call's pending query
   * (its handler returned `tx\`...\`` itself) is handed on unawaited: the transaction sends its COMMIT behind it.
   */
  function answer(ctx: AppContext, calls: Call[], tx: Tx, deadline?: TransactionDeadline): unknown {
    const value = run(ctx, calls, tx);
    return calls[0].index !== undefined || isPendingQuery(value) ? value : streamed(ctx, value, deadline);
  }

  async function streamed(ctx: AppContext, pending: unknown, deadline?: TransactionDeadline): Promise<unknown> {
    const value = await pending;
    if (!isAsyncIterable(value)) return value;
    await streamResult(ctx, value, { signal: deadline?.signal, sendTimeoutMs });
    return STREAMED;
  }

  /** Runs the handlers in order in `tx`: a single call's value as it is (no async frame around it), a batch's as `{ results }`. */
  function run(ctx: AppContext, calls: Call[], tx: Tx): unknown {
    return calls.length === 1 && calls[0].index === undefined ? callHandler(ctx, calls[0], tx) : runBatch(ctx, calls, tx);
  }

  async function runBatch(ctx: AppContext, calls: Call[], tx: Tx): Promise<{ results: unknown[] }> {
    const results: unknown[] = [];
    for (const call of calls) {
      // A batch answers one JSON body: a call's stream is gathered.
      results.push(await atCallAsync(call.index!, call.action.id, async () => collected(callHandler(ctx, call, tx))));
    }
    return { results };
  }

  /** One handler, with the context handlers expect; `database: false` actions get no `tx`, in a batch too. */
  function callHandler(ctx: AppContext, { action, params }: Call, tx: Tx): unknown {
    return action.handler(new HandlerContext(params, ctx.state.caller!, action.database === false ? noTransaction : tx, log, ctx.state.requestId, action.id));
  }
}

/**
 * What a handler receives; the child logger is made only when the handler uses `log`. A class with the getter on its
 * prototype, not an object literal with a getter: with the literal, about a tenth of each call's allocations outlived
 * two scavenges (`--trace-gc`: 1.4 MB promoted per scavenge under load, against none now), and RSS under load grew by
 * ~60 MiB.
 */
class HandlerContext {
  private child?: Logger;
  constructor(
    readonly params: unknown,
    readonly caller: Caller,
    readonly tx: Tx,
    private readonly base: Logger,
    private readonly requestId: string,
    private readonly actionId: string,
  ) {}

  get log(): Logger {
    return (this.child ??= this.base.child({ http: { request: { id: this.requestId } }, user: { name: this.caller.name }, dbapi: { action: this.actionId } }));
  }
}

function parseParams(action: LoadedAction, params: unknown): unknown {
  const parsed = action.params.safeParse(params);
  if (!parsed.success) throw invalidParams(parsed.error);
  return parsed.data;
}

async function collected(value: unknown): Promise<unknown> {
  const v = await value;
  return isAsyncIterable(v) ? collect(v) : v;
}

/** Names the failing call of a batch: `details.index` (0-based), `details.action`, and the call's own details. */
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
