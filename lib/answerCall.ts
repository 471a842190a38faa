// Runs a validated call in its transaction and answers it, once per Idempotency-Key when the caller sends one.
import type { TransactionSql } from 'postgres';
import type { AppContext } from './AppState';
import type { Databases, TransactionOptions } from './db/createDatabases';
import type { LoadedAction } from './loadModules';
import type { Idempotency } from './idempotency/createIdempotency';
import { checkIdempotencyKey } from './idempotency/createIdempotency';
import { encodeJson } from './encodeJson';

const CONFLICT_RETRIES = 3;

export interface CallDeps {
  db: Databases;
  idempotency: Idempotency;
}

export async function answerCall(ctx: AppContext, action: LoadedAction, params: unknown, { db, idempotency }: CallDeps, run: (tx: TransactionSql) => unknown): Promise<void> {
  const options: TransactionOptions = {
    readOnly: action.readOnly,
    isolation: action.isolation,
    statementTimeoutMs: action.statementTimeoutMs,
    conflictRetries: action.retryOnConflict ? CONFLICT_RETRIES : 0,
  };
  const key = ctx.get('idempotency-key');
  ctx.type = 'application/json';
  // A read-only action changes nothing, so running it again is already safe: its key is checked, not stored.
  if (!key || action.readOnly) {
    if (key) checkIdempotencyKey(key);
    ctx.body = encodeJson(await db.transaction(action.database, options, run));
    return;
  }
  const answer = await idempotency.call({
    database: action.database, caller: ctx.state.caller!.name, key: checkIdempotencyKey(key), action: action.id, params, options,
    run: async (tx) => encodeJson(await run(tx)),
  });
  ctx.status = answer.status;
  if (answer.replayed) ctx.set('Idempotency-Replayed', 'true');
  ctx.body = answer.body;
}
