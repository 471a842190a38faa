// Middleware: takes the caller's (or nginx's) X-Request-Id when it is sane, else makes one, and echoes it back.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { AppState } from './AppState';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(): Middleware<AppState> {
  return (ctx, next) => {
    const given = ctx.get('x-request-id');
    const id = SANE.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.res.setHeader('X-Request-Id', id); // node's own: koa's ctx.set builds arrays per header
    return next();
  };
}
