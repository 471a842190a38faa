// Middleware: a fair share per caller. Counts the calls each caller has running on this replica and answers 429
// `too_many_requests` (with Retry-After) past its maxConcurrent, before its body is read or any connection is taken.
import type { Middleware } from 'koa';
import type { AppContext, AppState } from '../http/AppState';
import { ApiError, RETRY_AFTER } from '../errors/ApiError';

/** `defaultMax`: the share of callers that declare no `maxConcurrent` (CALLER_MAX_CONCURRENT); 0 means no limit. */
export function callerShare(defaultMax: number): Middleware<AppState> {
  // Keyed by name: a caller's share holds across its tokens (and across JWTs, which make a Caller per token).
  const running = new Map<string, number>();
  return (ctx, next) => {
    const max = ctx.state.caller!.maxConcurrent ?? defaultMax;
    return max === 0 ? next() : limited(ctx, next, max); // no limit: no async frame of its own
  };

  async function limited(ctx: AppContext, next: () => Promise<unknown>, max: number): Promise<void> {
    const caller = ctx.state.caller!;
    const n = running.get(caller.name) ?? 0;
    if (n >= max) {
      throw new ApiError('too_many_requests', {
        message: `This caller already has ${max} calls running (its maxConcurrent); retry later`,
        headers: RETRY_AFTER, // the caller's running calls end within milliseconds to seconds
      });
    }
    running.set(caller.name, n + 1);
    try {
      await next(); // a streamed answer is sent inside: its place is held until the last row is written
    } finally {
      const left = running.get(caller.name)! - 1;
      if (left > 0) running.set(caller.name, left);
      else running.delete(caller.name);
    }
  }
}
