// Writes an async iterable as NDJSON (default) or a JSON array (when Accept prefers application/json), with backpressure.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AppContext } from '../AppState';
import { encodeJson } from '../encodeJson';
import { toApiError } from '../toApiError';

export const NDJSON = 'application/x-ndjson';

/**
 * Resolves once the last item is written and the response ended; rejects when the iterable throws or the client leaves.
 * Called inside the transaction, so the transaction stays open exactly as long as the stream runs.
 * An error before the first item still becomes an ordinary JSON error; after it, the response is cut off (no final
 * chunk, no closing `]`), which every HTTP client reports as an error rather than as a short, valid answer.
 */
export async function streamResult(ctx: AppContext, iterable: AsyncIterable<unknown>): Promise<void> {
  const asArray = ctx.accepts(NDJSON, 'application/json') === 'application/json';
  const items = iterable[Symbol.asyncIterator]();
  const first = await items.next(); // errors here are still answered as JSON errors
  ctx.status = 200;
  ctx.type = asArray ? 'application/json' : NDJSON;
  ctx.respond = false; // koa leaves the response to us from here on
  const res = ctx.res;
  res.writeHead(200, ctx.response.headers as Record<string, string>);
  // Readable.from pulls the next item only when the socket has drained: memory stays flat however many rows come.
  try {
    await pipeline(Readable.from(encode(ctx, first, items, asArray), { objectMode: true, highWaterMark: 16 }), res);
  } catch (e) {
    throw (ctx.state.error ??= toApiError(e));
  }
}

// Items are joined into chunks of about this size: one socket write per row would cost a write call per row.
const CHUNK_CHARS = 16 * 1024;

async function* encode(ctx: AppContext, first: IteratorResult<unknown>, items: AsyncIterator<unknown>, asArray: boolean): AsyncGenerator<string> {
  try {
    let chunk = asArray ? '[' : '';
    let separator = '';
    for (let next = first; !next.done; next = await items.next()) {
      chunk += asArray ? separator + encodeJson(next.value) : `${encodeJson(next.value)}\n`;
      separator = ',';
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
    yield asArray ? `${chunk}]` : chunk;
  } catch (e) {
    // Noted before the response is cut off, so the access log of this request (written on close) carries it.
    ctx.state.error = toApiError(e);
    throw e;
  } finally {
    await items.return?.(); // the client left or an error: close the cursor
  }
}
