// The client's one error type: the gateway's error code, status, request id and details, or `network` when none came.
import type { ErrorCode } from '../lib/errors/ApiError';

/** The gateway's error codes (its catalogue, by type only), `network` when no answer came, or a newer gateway's code. */
export type DbapiErrorCode = ErrorCode | 'network' | (string & {});

export class DbapiError extends Error {
  readonly code: DbapiErrorCode;
  /** HTTP status, 0 for a network error. */
  readonly status: number;
  readonly requestId?: string;
  readonly details?: unknown;

  constructor(code: DbapiErrorCode, message: string, o: { status: number; requestId?: string; details?: unknown; cause?: unknown }) {
    super(message, { cause: o.cause });
    this.name = 'DbapiError';
    this.code = code;
    this.status = o.status;
    this.requestId = o.requestId;
    this.details = o.details;
  }
}
