// A call's transaction: decided from what its actions declare; a batch's honours every call's needs at once.
import type { LoadedAction, TransactionNeeds } from '../modules/loadModules';
import { transactionPlanner } from './transactionPlanner';

const planTransaction = transactionPlanner({ statementTimeoutMs: 30_000 });
let n = 0;
const act = (needs: Partial<TransactionNeeds>, database: string | false = 'default'): LoadedAction => ({
  id: `m/a${++n}`, module: 'm', name: `a${n}`, path: `/m/a${n}`, params: undefined as never, database, handler: () => null,
  needs: { readOnly: false, retryOnConflict: false, ...needs },
});
const options = (...actions: LoadedAction[]) => planTransaction(actions, false).options;

test('read only only when every call is; the strongest isolation; retries only if all may', () => {
  expect(options(act({ readOnly: true }), act({ readOnly: true, retryOnConflict: true }))).toEqual({ readOnly: true, isolation: undefined, statementTimeoutMs: undefined, conflictRetries: 0 });
  expect(options(
    act({ readOnly: false, isolation: 'repeatable read', retryOnConflict: true }),
    act({ readOnly: true, isolation: 'serializable', retryOnConflict: true }),
    act({ readOnly: true, retryOnConflict: true }),
  )).toEqual({ readOnly: false, isolation: 'serializable', statementTimeoutMs: undefined, conflictRetries: 3 });
});

test('the longest statement timeout, counting a call that declares none as the pool\'s', () => {
  expect(options(act({ statementTimeoutMs: 100 }), act({})).statementTimeoutMs).toBeUndefined();
  expect(options(act({ statementTimeoutMs: 100 }), act({ statementTimeoutMs: 200 })).statementTimeoutMs).toBe(200);
  expect(options(act({ statementTimeoutMs: 120_000 }), act({})).statementTimeoutMs).toBe(120_000);
  expect(options(act({ statementTimeoutMs: 100 }), act({ statementTimeoutMs: 0 })).statementTimeoutMs).toBe(0);
});

test('actions without a database take no part; only they: no transaction; two databases: refused', () => {
  expect(planTransaction([act({}, false), act({ readOnly: true }, 'other')], false)).toEqual({ database: 'other', options: { readOnly: true, isolation: undefined, statementTimeoutMs: undefined, conflictRetries: 0 } });
  expect(planTransaction([act({}, false)], false).database).toBe(false);
  expect(() => planTransaction([act({}, 'a'), act({}, 'b')], false)).toThrow(expect.objectContaining({ code: 'invalid_params' }));
});

test('a dry run rolls back; a single call\'s options are built once', () => {
  const a = act({ readOnly: true });
  expect(planTransaction([a], true).options.rollback).toBe(true);
  expect(planTransaction([a], false).options).toBe(planTransaction([a], false).options);
});
