// One transaction for a batch that honours every call's needs: the strongest isolation, the longest declared statement
// timeout, read only when all are, and conflict retries only when every call is safe to run again.
import type { TransactionOptions } from '../db/createDatabases';

const STRENGTH = [undefined, 'read committed', 'repeatable read', 'serializable'] as const;

export function batchTransaction(calls: readonly TransactionOptions[]): TransactionOptions {
  const timeouts = calls.map((c) => c.statementTimeoutMs).filter((t): t is number => t !== undefined);
  return {
    readOnly: calls.every((c) => c.readOnly),
    isolation: calls.map((c) => c.isolation).reduce((a, b) => (STRENGTH.indexOf(b) > STRENGTH.indexOf(a) ? b : a), undefined),
    statementTimeoutMs: timeouts.length === 0 ? undefined : timeouts.includes(0) ? 0 : Math.max(...timeouts),
    conflictRetries: Math.min(...calls.map((c) => c.conflictRetries ?? 0)),
  };
}
