// Writes an async iterable as NDJSON (default) or a JSON array (when Accept prefers application/json), with
// backpressure, within the transaction's deadline and a send timeout.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AppContext } from '../http/AppState';
import { ApiError } from '../errors/ApiError';
import { encodeJson } from '../calls/encodeJson';
import { toApiError } from '../errors/toApiError';

export const NDJSON = 'application/x-ndjson';

export interface StreamLimits {
  /** Aborted when the transaction's deadline (DB_TRANSACTION_TIMEOUT_MS) passes: the stream is cut off. */
  signal?: AbortSignal;
  /** A reader that takes nothing for this long while the socket is full is given up (SEND_TIMEOUT_MS). */
  sendTimeoutMs: number;
}

/**
 * Resolves once the last item is written and the response ended; rejects when the iterable throws, the client
 * leaves, the reader stalls past the send timeout or the transaction's deadline passes. Called inside the
 * transaction, so the transaction stays open exactly as long as the stream runs, and no longer than its deadline.
 * An error before the first item still becomes an ordinary JSON error; after it, the response is cut off (no final
 * chunk, no closing `]`), which every HTTP client reports as an error rather than as a short, valid answer.
 */
export async function streamResult(ctx: AppContext, iterable: AsyncIterable<unknown>, { signal, sendTimeoutMs }: StreamLimits): Promise<void> {
  const asArray = ctx.accepts(NDJSON, 'application/json') === 'application/json';
  const items = iterable[Symbol.asyncIterator]();
  const first = await items.next(); // errors here are still answered as JSON errors
  ctx.status = 200;
  ctx.type = asArray ? 'application/json' : NDJSON;
  ctx.respond = false; // koa leaves the response to us from here on
  const res = ctx.res;
  res.writeHead(200, ctx.response.headers as Record<string, string>);
  const progress = { at: Date.now() };
  const drained = () => (progress.at = Date.now()); // the reader took what was buffered
  res.on('drain', drained);
  // The socket's buffer full and nothing taken (no drain, no chunk pulled) for sendTimeoutMs: the reader has stalled.
  const watchdog = setInterval(() => {
    if (res.writableNeedDrain && Date.now() - progress.at > sendTimeoutMs) {
      const error = new ApiError('timeout', { message: 'The reader took nothing in time', cause: new Error(`no drain for ${sendTimeoutMs} ms`) });
      ctx.state.error = error;
      res.destroy(error);
    }
  }, Math.min(1_000, sendTimeoutMs)).unref();
  // Readable.from pulls the next item only when the socket has drained: memory stays flat however many rows come.
  try {
    await pipeline(Readable.from(encode(ctx, first, items, asArray, progress), { objectMode: true, highWaterMark: 16 }), res, { signal });
  } catch (e) {
    if (signal?.aborted && !ctx.state.error) ctx.state.error = new ApiError('timeout', { cause: signal.reason });
    throw (ctx.state.error ??= toApiError(e));
  } finally {
    clearInterval(watchdog);
    res.off('drain', drained);
  }
}

// Items are joined into chunks of about this size: one socket write per row would cost a write call per row.
const CHUNK_CHARS = 16 * 1024;

async function* encode(ctx: AppContext, first: IteratorResult<unknown>, items: AsyncIterator<unknown>, asArray: boolean, progress: { at: number }): AsyncGenerator<string> {
  try {
    let chunk = asArray ? '[' : '';
    let separator = '';
    for (let next = first; !next.done; next = await items.next()) {
      chunk += asArray ? separator + encodeJson(next.value) : `${encodeJson(next.value)}\n`;
      separator = ',';
      if (chunk.length >= CHUNK_CHARS) {
        progress.at = Date.now(); // pulled again: the socket took the last chunk
        yield chunk;
        chunk = '';
      }
    }
    yield asArray ? `${chunk}]` : chunk;
  } catch (e) {
    // Noted before the response is cut off, so the access line of this request (written on close) carries it. An
    // AbortError is the pipeline's own (the transaction's deadline, thrown into this generator): streamResult notes
    // that one as a timeout, which this 500 would otherwise sometimes beat.
    if ((e as Error | undefined)?.name !== 'AbortError') ctx.state.error = toApiError(e);
    throw e;
  } finally {
    await items.return?.(); // the client left, an error, a timeout: close the cursor
  }
}
