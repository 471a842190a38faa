// Middleware: hands a finished response to koa-compress only when the caller accepts an encoding and the body is large.
// koa-compress inspects every response (Vary, MIME lookup, header reads) even when it compresses nothing, which cost
// about 15% of a small call's throughput; deciding here first makes small answers pay nothing.
import compress from 'koa-compress';
import type { Middleware } from 'koa';
import type { AppState } from './AppState';

const done = () => Promise.resolve();

export function compressWhenItPays({ threshold }: { threshold: number }): Middleware<AppState> {
  const compressBody = compress({ threshold });
  return (ctx, next) => {
    // A caller that accepts no encoding passes straight through (no async frame of its own around the call).
    if (!ctx.request.headers['accept-encoding']) return next();
    return next().then(() => {
      if (ctx.body == null) return;
      const size = ctx.response.length; // known for strings and buffers; unknown (compress anyway) for streams
      if (size !== undefined && size < threshold) return;
      return compressBody(ctx, done); // the response is complete: koa-compress only negotiates and wraps the body
    });
  };
}
