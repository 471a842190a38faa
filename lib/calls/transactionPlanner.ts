// The one place where a call's transaction is decided: which database, and its options, from what the actions of the
// call declare. A batch gets one transaction that honours every call's needs: the strongest isolation, the longest
// statement timeout (a call that declares none has the pool's), read only when all are, conflict retries only when all
// may run again. Actions declared `database: false` take no part; a call made only of them opens no transaction.
import type { TransactionOptions } from '../db/createDatabases';
import type { LoadedAction } from '../modules/loadModules';
import { ApiError } from '../errors/ApiError';

export interface TransactionPlan {
  /** `false`: no connection is taken and no transaction opened. */
  database: string | false;
  options: TransactionOptions;
}

export interface PlanDefaults {
  /** The pool's statement timeout (DB_STATEMENT_TIMEOUT_MS): a transaction asking for the same needs no SET LOCAL. */
  statementTimeoutMs: number;
}

// Attempts after the first for actions that declare `retryOnConflict` (serialization failure, deadlock).
const CONFLICT_RETRIES = 3;
const STRENGTH = [undefined, 'read committed', 'repeatable read', 'serializable'] as const;
const NONE: TransactionPlan = { database: false, options: { readOnly: true } };

export type PlanTransaction = (actions: readonly LoadedAction[], rollback: boolean) => TransactionPlan;

export function transactionPlanner(defaults: PlanDefaults): PlanTransaction {
  // A single action's options, built once per action: the common single call allocates nothing here.
  const singles = new Map<LoadedAction, TransactionOptions>();
  const single = (action: LoadedAction) => {
    let options = singles.get(action);
    if (!options) singles.set(action, (options = merged([action], defaults)));
    return options;
  };
  return (actions, rollback) => {
    const using = actions.filter((a) => a.database !== false);
    if (using.length === 0) return NONE;
    const databases = new Set(using.map((a) => a.database));
    if (databases.size > 1) {
      throw new ApiError('invalid_params', {
        message: 'All calls of a batch must use one database',
        details: actions.map((a, index) => ({ index, action: a.id, database: a.database })),
      });
    }
    const options = using.length === 1 ? single(using[0]) : merged(using, defaults);
    return { database: using[0].database as string, options: rollback ? { ...options, rollback } : options };
  };
}

function merged(actions: readonly LoadedAction[], { statementTimeoutMs: poolTimeoutMs }: PlanDefaults): TransactionOptions {
  const timeouts = actions.map((a) => a.needs.statementTimeoutMs ?? poolTimeoutMs);
  const longest = timeouts.includes(0) ? 0 : Math.max(...timeouts); // 0: no timeout at all
  return {
    readOnly: actions.every((a) => a.needs.readOnly),
    isolation: actions.map((a) => a.needs.isolation).reduce((a, b) => (STRENGTH.indexOf(b) > STRENGTH.indexOf(a) ? b : a), undefined),
    statementTimeoutMs: longest === poolTimeoutMs ? undefined : longest, // undefined: the pool's, no SET LOCAL
    conflictRetries: actions.every((a) => a.needs.retryOnConflict) ? CONFLICT_RETRIES : 0,
  };
}
