// The shape of a module's route table: action name → action. `action()` only keeps the types for callers and tools.
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { TransactionSql } from 'postgres';
import type { Caller } from '../src/settings';

export interface ActionContext<P> {
  /** The params, parsed by the action's schema. */
  params: P;
  /** The call's transaction: tagged-template SQL only; it commits when the handler returns, rolls back when it throws. */
  tx: TransactionSql<Record<string, never>>;
  caller: Caller;
  /** A logger bound to this request's id, caller and action. */
  log: Logger;
}

export interface Action<S extends z.ZodType = z.ZodType, R = unknown> {
  /** The params schema; an object schema is made strict (unknown fields are rejected). Omitted: no params. */
  params?: S;
  /** The result schema, for documentation and typed clients (not checked at run time). */
  result?: z.ZodType<R>;
  /** Which database: `default` unless named (configured by DATABASE_URL_<NAME>); `false`: none, no transaction is opened. */
  database?: string | false;
  /** Runs in a `read only` transaction. */
  readOnly?: boolean;
  handler(ctx: ActionContext<z.output<S>>): Promise<R> | R;
}

export type RouteTable = Record<string, Action<any, any>>;

export function action<S extends z.ZodType = z.ZodObject<{}>, R = unknown>(def: Action<S, R>): Action<S, R> {
  return def;
}
