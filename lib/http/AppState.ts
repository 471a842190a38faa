// The per-request state that middleware hands down the pipeline (koa's ctx.state).
import type { ParameterizedContext } from 'koa';
import type { ApiError } from '../errors/ApiError';
import type { Caller } from '../auth/Caller';

export interface AppState {
  requestId: string;
  caller?: Caller;
  /** `module/action` (or `_batch`) once the call was resolved. */
  action?: string;
  /** The error the request was answered (or cut off) with, for its access line and metrics. */
  error?: ApiError;
}

export type AppContext = ParameterizedContext<AppState>;
