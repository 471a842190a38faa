// One transaction for a batch that honours every call's needs: the strongest isolation, the longest statement timeout
// (a call that declares none has the pool's), read only when all are, and conflict retries only when all may run again.
import type { TransactionOptions } from '../db/createDatabases';

const STRENGTH = [undefined, 'read committed', 'repeatable read', 'serializable'] as const;

export function batchTransaction(calls: readonly TransactionOptions[], poolTimeoutMs: number): TransactionOptions {
  const timeouts = calls.map((c) => c.statementTimeoutMs ?? poolTimeoutMs);
  const longest = timeouts.includes(0) ? 0 : Math.max(...timeouts); // 0: no timeout at all
  return {
    readOnly: calls.every((c) => c.readOnly),
    isolation: calls.map((c) => c.isolation).reduce((a, b) => (STRENGTH.indexOf(b) > STRENGTH.indexOf(a) ? b : a), undefined),
    statementTimeoutMs: timeouts.length === 0 || longest === poolTimeoutMs ? undefined : longest,
    conflictRetries: Math.min(...calls.map((c) => c.conflictRetries ?? 0)),
  };
}
