// Runs a validated call in its transaction and answers it: JSON, a stream, or the stored answer of its Idempotency-Key.
import type { TransactionSql } from 'postgres';
import type { AppContext } from './AppState';
import type { Databases, TransactionOptions } from './db/createDatabases';
import type { Idempotency } from './idempotency/createIdempotency';
import { checkIdempotencyKey } from './idempotency/createIdempotency';
import { encodeJson } from './encodeJson';
import { isAsyncIterable } from './stream/isAsyncIterable';
import { streamResult } from './stream/streamResult';
import { collect } from './stream/collect';
import { noTransaction } from './noTransaction';

const STREAMED = Symbol('streamed');

/** What answerCall needs to know of the call: an action, or a batch of them. */
export interface CallTarget {
  id: string;
  /** `false`: the action uses no database (no connection, no transaction). */
  database: string | false;
  transaction: TransactionOptions;
}

export interface CallDeps {
  db: Databases;
  idempotency: Idempotency;
  /** A dry run: answer, then roll back. */
  rollback: boolean;
}

export async function answerCall(ctx: AppContext, action: CallTarget, params: unknown, { db, idempotency, rollback }: CallDeps, run: (tx: TransactionSql) => unknown): Promise<void> {
  const options: TransactionOptions = rollback ? { ...action.transaction, rollback } : action.transaction;
  const key = ctx.get('idempotency-key');
  const database = action.database;
  // A read-only action changes nothing, so running it again is already safe: its key is checked, not stored.
  // Nor is it for an action without a database (`database: false`): there is no transaction to store the answer in.
  if (!key || action.transaction.readOnly || database === false) {
    if (key) checkIdempotencyKey(key);
    const answer = async (tx: TransactionSql) => {
      const value = await run(tx);
      if (!isAsyncIterable(value)) return value;
      await streamResult(ctx, value); // inside the transaction: it commits only after the last item is sent
      return STREAMED;
    };
    // `database: false`: no connection is taken and no transaction opened (about half the cost of a small call).
    const result = database === false ? await answer(noTransaction) : await db.transaction(database, options, answer);
    if (result === STREAMED) return;
    ctx.type = 'application/json';
    ctx.body = encodeJson(result);
    return;
  }
  // The stored answer is one JSON body: a streamed result is gathered into an array to be stored.
  const answer = await idempotency.call({
    database, caller: ctx.state.caller!.name, key: checkIdempotencyKey(key), action: action.id, params, options,
    run: async (tx) => {
      const value = await run(tx);
      return encodeJson(isAsyncIterable(value) ? await collect(value) : value);
    },
  });
  ctx.status = answer.status;
  ctx.type = 'application/json';
  if (answer.replayed) ctx.set('Idempotency-Replayed', 'true');
  ctx.body = answer.body;
}
