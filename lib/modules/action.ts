// The shape of a module's route table: action name → action. `action()` only keeps the types for callers and tools.
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Tx } from '../db/Tx';
import type { Caller } from '../auth/Caller';
import type { Isolation } from '../db/runTransaction';

export interface ActionContext<P> {
  /** The params, parsed by the action's schema. */
  params: P;
  /** The call's transaction: tagged-template SQL only; it commits when the handler returns, rolls back when it throws. */
  tx: Tx;
  caller: Caller;
  /** A logger bound to this request's id, caller and action. */
  log: Logger;
}

export interface Action<S extends z.ZodType = z.ZodType, R = unknown> {
  /** The params schema; an object schema is made strict (unknown fields are rejected). Omitted: no params. */
  params?: S;
  /** What the action does, for /openapi.json and /docs (Markdown). */
  description?: string;
  /** Example params for /openapi.json and Swagger UI's "Try it out"; checked against `params` at start. Omitted: derived from the schema. */
  example?: z.input<S>;
  /** The result schema, for documentation and typed clients (not checked at run time); for a stream, one item's. */
  result?: z.ZodType<ItemOf<R>>;
  /** Which database: `default` unless named (configured by DATABASE_URL_<NAME>); `false`: none, no transaction is opened. */
  database?: string | false;
  /** Runs in a `read only` transaction. */
  readOnly?: boolean;
  /** The transaction's isolation level; default PostgreSQL's (read committed). */
  isolation?: Isolation;
  /** This action's statement timeout (ms), instead of DB_STATEMENT_TIMEOUT_MS: exceeded → 504, rolled back. */
  statementTimeoutMs?: number;
  /**
   * Safe to run again from the start: a serialization failure or deadlock is retried (up to 3 more attempts)
   * instead of answered 409. Only for handlers whose effects are all inside the transaction.
   */
  retryOnConflict?: boolean;
  handler(ctx: ActionContext<z.output<S>>): Promise<R> | R;
}

/** A streamed result (an async iterable, sent as NDJSON) is described by its items; any other result by itself. */
export type ItemOf<R> = R extends AsyncIterable<infer T> ? T : R;

export type RouteTable = Record<string, Action<any, any>>;

export function action<S extends z.ZodType = z.ZodObject<{}>, R = unknown>(def: Action<S, R>): Action<S, R> {
  return def;
}
