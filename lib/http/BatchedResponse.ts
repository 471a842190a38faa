// node:http's ServerResponse, its answers written in bursts: one wake-up of the reader (nginx, a load generator) per
// turn of the event loop instead of one per answer.
import { ServerResponse, type IncomingMessage } from 'node:http';
import { ApiError } from '../errors/ApiError';
import { noteEndedWith } from './requestFinished';

/**
 * A response whose end, when it is the whole answer (no header sent yet, so not a stream), is held and written with
 * the others ended in the same turn of the event loop: once that turn's I/O callbacks have all run (setImmediate), one
 * after another. Written one by one as each is made, every answer woke its reader's process on its own: under foo load
 * ~4 µs of the kernel's time per call in the write alone (`sock_def_readable`), and the reader, woken for one answer,
 * slept again before the next. The burst costs an answer at most the rest of its turn in latency; measured under load
 * (docs/PERFORMANCE.md, "Answers in bursts"): CPU per foo call 57-61 -> 33-48 µs, req/s 1.28-1.65x, p99 lower.
 *
 * A held answer counts as ended (`writableEnded`, which koa's `ctx.writable` reads), so nothing writes after it.
 */
export class BatchedResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** The arguments of the end() held for the burst, until it is written (this file's own). */
  heldEnd: unknown[] | null = null;

  override end(...args: unknown[]): this {
    if (this.heldEnd !== null) return this; // ended already; Node ignores a second end() without data as well
    if (this.headersSent) return super.end(...(args as [])) as this;
    if (held.length === 0) setImmediate(endHeld);
    this.heldEnd = args;
    held.push(this);
    return this;
  }

  /** Writes a held end now, ahead of its burst (the connection is about to be closed under it). */
  endNow(): void {
    const args = this.heldEnd;
    if (args === null) return;
    this.heldEnd = null;
    try {
      end.apply(this, args);
    } catch (error) {
      // What the call that ended it would have seen throw: that one answer is lost (its access line says why), not
      // the process, nor the rest of the burst.
      noteEndedWith(this, new ApiError('internal', { cause: error }));
      this.destroy();
    }
  }
}

Object.defineProperty(BatchedResponse.prototype, 'writableEnded', {
  get(this: BatchedResponse) {
    return this.heldEnd !== null || this.finished;
  },
});

const end = ServerResponse.prototype.end as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
let held: BatchedResponse[] = [];

function endHeld(): void {
  const list = held;
  held = [];
  for (const res of list) res.endNow();
}
