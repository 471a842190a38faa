// The client's types, inferred from route tables: params are the schema's input, results the handler's value.
import type { z } from 'zod';
import type { Action, RouteTable } from '../lib/modules/action';

export interface CallOptions {
  /** Sent as `Idempotency-Key`; default: a new UUID per call, the same for each of its retries. */
  idempotencyKey?: string;
  /** `Prefer: tx=rollback`: run and roll back (callers allowed dry runs only). */
  dryRun?: boolean;
  /** Sent as `X-Request-Id`. */
  requestId?: string;
  signal?: AbortSignal;
  /** This call's budget in ms, retries included (instead of the client's `timeoutMs`): see ClientOptions. */
  timeoutMs?: number;
}

export type ParamsOf<A> = A extends Action<infer S, any> ? z.input<S> : never;

/** A streamed result arrives as an async iterable of its items (read from NDJSON); anything else as itself. */
export type ResultOf<A> = A extends Action<any, infer R> ? (R extends AsyncIterable<infer T> ? AsyncIterable<T> : Awaited<R>) : never;

export type ActionCall<A> = {} extends ParamsOf<A>
  ? (params?: ParamsOf<A>, options?: CallOptions) => Promise<ResultOf<A>>
  : (params: ParamsOf<A>, options?: CallOptions) => Promise<ResultOf<A>>;

export type ModuleClient<T extends RouteTable> = { [K in keyof T]: ActionCall<T[K]> };

export interface BatchCall {
  action: string;
  params?: Record<string, unknown>;
}

export type Client<M extends Record<string, RouteTable>> = { [K in keyof M]: ModuleClient<M[K]> } & {
  /** POST /_batch: every call in one transaction; the results in order. */
  $batch(calls: BatchCall[], options?: CallOptions): Promise<unknown[]>;
};
