// A pool saturated for long: postgres.js's queue of queries waiting for a connection never empties then, and it kept
// every slot it had ever used until it did (patches/postgres+3.4.9.patch drops the used ones). What is asserted is
// what an operator relies on: memory follows the calls waiting, not the calls served since the pool was last idle.
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// The queue postgres.js's pools use for waiting queries (not exported by the package: loaded by its path).
const Queue = require(join(__dirname, '..', 'node_modules', 'postgres', 'cjs', 'src', 'queue.js')) as () => {
  length: number; push(x: unknown): unknown; shift(): unknown; remove(x: unknown): unknown;
};

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('a wait queue that never empties holds its waiting items only, in order', () => {
  const queue = Queue();
  for (let i = 0; i < 40; i++) queue.push({ i }); // 40 calls always waiting: the pool never catches up
  gc();
  const before = process.memoryUsage().heapUsed;
  let outOfOrder = 0;
  for (let i = 40; i < 2_000_040; i++) {
    queue.push({ i });
    if ((queue.shift() as { i: number }).i !== i - 40) outOfOrder++; // first in, first out, throughout
  }
  gc();
  expect(outOfOrder).toBe(0);
  // Unpatched, the 2,000,000 served calls left 22.5 MiB of used slots behind. (The queue is used below, after this
  // reading: it must still be alive here, or an unpatched queue would simply be collected and show no growth.)
  expect(process.memoryUsage().heapUsed - before).toBeLessThan(4 * 1024 * 1024);
  expect(queue.length).toBe(40);
  const waiting = { i: -1 };
  queue.push(waiting);
  expect(queue.remove(waiting)).toBe(waiting); // a waiting call can still be taken out (a cancelled query)
  expect(queue.length).toBe(40);
});
