// The closed error catalogue (every error a caller can see, its HTTP status and public message) and the one error type.
export const ERRORS = {
  invalid_json: { status: 400, message: 'The request body is not valid JSON' },
  invalid_params: { status: 400, message: 'The params do not match the action\'s schema' },
  bad_request: { status: 400, message: 'The HTTP request is malformed' },
  unauthorized: { status: 401, message: 'A valid bearer token is required' },
  forbidden: { status: 403, message: 'This caller may not call this action' },
  not_found: { status: 404, message: 'No such module or action' },
  method_not_allowed: { status: 405, message: 'Actions are called with POST' },
  request_timeout: { status: 408, message: 'The request was not received in time' },
  payload_too_large: { status: 413, message: 'The request body is too large' },
  unsupported_media_type: { status: 415, message: 'The request body must be application/json' },
  idempotency_mismatch: { status: 422, message: 'This Idempotency-Key was used with another action or other params' },
  headers_too_large: { status: 431, message: 'The request headers are too large' },
  too_many_requests: { status: 429, message: 'This caller has too many calls running; retry later' },
  conflict: { status: 409, message: 'The call conflicts with concurrent or existing data; retry or change the params' },
  unavailable: { status: 503, message: 'The database is unavailable; retry later' },
  timeout: { status: 504, message: 'The call took too long and was rolled back' },
  internal: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** What every `unavailable` answer carries: try again in a second. */
export const RETRY_AFTER = { 'Retry-After': '1' } as const;

export interface ErrorOptions {
  message?: string;
  details?: unknown;
  headers?: Record<string, string>;
  cause?: unknown;
}

/** The one error type: its `code` is a key of ERRORS; only its message and details reach the caller. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, options: ErrorOptions = {}) {
    super(options.message ?? ERRORS[code].message, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = options.details;
    this.headers = options.headers;
  }
}
