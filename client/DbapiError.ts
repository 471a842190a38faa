// The client's one error type: the gateway's error code, status, request id and details, or `network` when none came.
export type DbapiErrorCode =
  | 'invalid_json' | 'invalid_params' | 'unauthorized' | 'forbidden' | 'not_found' | 'method_not_allowed'
  | 'payload_too_large' | 'unsupported_media_type' | 'conflict' | 'unavailable' | 'timeout' | 'internal' | 'network'
  | (string & {}); // codes a newer gateway may add

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
