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

/** `deadline`: the caller's (`Request-Timeout`, as a `performance.now()` time), if it sent one. */
export type PlanTransaction = (actions: readonly LoadedAction[], rollback: boolean, deadline?: number) => TransactionPlan;

export function transactionPlanner(defaults: PlanDefaults): PlanTransaction {
  // A single action's plan, made once per action: the common single call (no deadline, no dry run) allocates nothing
  // here, and the others start from its options.
  const plans = new Map<LoadedAction, TransactionPlan>();
  const singlePlan = (action: LoadedAction) => {
    let plan = plans.get(action);
    if (!plan) plans.set(action, (plan = action.database === false ? NONE : { database: action.database, options: merged([action], defaults) }));
    return plan;
  };
  return (actions, rollback, deadline) => {
    if (actions.length === 1 && !rollback && deadline === undefined) return singlePlan(actions[0]);
    const using = actions.filter((a) => a.database !== false);
    if (using.length === 0) return NONE;
    const databases = new Set(using.map((a) => a.database));
    if (databases.size > 1) {
      throw new ApiError('invalid_params', {
        message: 'All calls of a batch must use one database',
        details: actions.map((a, index) => ({ index, action: a.id, database: a.database })),
      });
    }
    const options = using.length === 1 ? singlePlan(using[0]).options : merged(using, defaults);
    if (deadline !== undefined) return { database: using[0].database as string, options: { ...withDeadline(options, deadline, defaults), ...(rollback && { rollback }) } };
    return { database: using[0].database as string, options: rollback ? { ...options, rollback } : options };
  };
}

/**
 * A call with a deadline of its own: options made for this call beside the cached ones, whose statement timeout is
 * the shorter of the action's (or the pool's; 0: none) and what is left of the caller's budget; runTransaction trims
 * it again, and bounds the acquire wait and the transaction, when the transaction starts.
 */
function withDeadline(options: TransactionOptions, deadline: number, { statementTimeoutMs: poolTimeoutMs }: PlanDefaults): TransactionOptions {
  const left = Math.max(1, Math.ceil(deadline - performance.now()));
  const own = options.statementTimeoutMs ?? poolTimeoutMs;
  return { ...options, deadline, statementTimeoutMs: own === 0 ? left : Math.min(own, left) };
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
