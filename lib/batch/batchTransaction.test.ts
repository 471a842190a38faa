// A batch's transaction options: what every call needs, at once.
import { batchTransaction } from './batchTransaction';

const POOL = 30_000;

test('read only only when every call is; the strongest isolation; retries only if all may', () => {
  expect(batchTransaction([{ readOnly: true }, { readOnly: true, conflictRetries: 3 }], POOL)).toEqual({ readOnly: true, isolation: undefined, statementTimeoutMs: undefined, conflictRetries: 0 });
  expect(batchTransaction([
    { readOnly: false, isolation: 'repeatable read', conflictRetries: 3 },
    { readOnly: true, isolation: 'serializable', conflictRetries: 3 },
    { readOnly: true, conflictRetries: 3 },
  ], POOL)).toEqual({ readOnly: false, isolation: 'serializable', statementTimeoutMs: undefined, conflictRetries: 3 });
});

test('the longest statement timeout, counting a call that declares none as the pool\'s', () => {
  expect(batchTransaction([{ readOnly: false, statementTimeoutMs: 100 }, { readOnly: false }], POOL).statementTimeoutMs).toBeUndefined();
  expect(batchTransaction([{ readOnly: false, statementTimeoutMs: 100 }, { readOnly: false, statementTimeoutMs: 200 }], POOL).statementTimeoutMs).toBe(200);
  expect(batchTransaction([{ readOnly: false, statementTimeoutMs: 120_000 }, { readOnly: false }], POOL).statementTimeoutMs).toBe(120_000);
  expect(batchTransaction([{ readOnly: false, statementTimeoutMs: 100 }, { readOnly: false, statementTimeoutMs: 0 }], POOL).statementTimeoutMs).toBe(0);
});
