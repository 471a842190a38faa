// A batch's transaction options: what every call needs, at once.
import { batchTransaction } from './batchTransaction';

test('read only only when every call is; the strongest isolation; the longest timeout; retries only if all may', () => {
  expect(batchTransaction([{ readOnly: true }, { readOnly: true, conflictRetries: 3 }])).toEqual({ readOnly: true, isolation: undefined, statementTimeoutMs: undefined, conflictRetries: 0 });
  expect(batchTransaction([
    { readOnly: false, isolation: 'repeatable read', statementTimeoutMs: 100, conflictRetries: 3 },
    { readOnly: true, isolation: 'serializable', statementTimeoutMs: 5000, conflictRetries: 3 },
    { readOnly: true, conflictRetries: 3 },
  ])).toEqual({ readOnly: false, isolation: 'serializable', statementTimeoutMs: 5000, conflictRetries: 3 });
  expect(batchTransaction([{ readOnly: false, statementTimeoutMs: 100 }, { readOnly: false, statementTimeoutMs: 0 }]).statementTimeoutMs).toBe(0);
});
