// The per-request state that middleware hands down the pipeline (koa's ctx.state).
import type { ParameterizedContext } from 'koa';
import type { ApiError } from './errors';
import type { Caller } from './Caller';

export interface AppState {
  requestId: string;
  caller?: Caller;
  /** `module/action` once the router matched. */
  action?: string;
  /** The error the error middleware answered with, for the access log. */
  error?: ApiError;
}

export type AppContext = ParameterizedContext<AppState>;
