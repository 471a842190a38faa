// The one translator from anything thrown on the request path to an ApiError; causes stay server-side.
import { ApiError, RETRY_AFTER } from './ApiError';


// SQLSTATE classes and codes, from https://www.postgresql.org/docs/current/errcodes-appendix.html
const CONFLICT_STATES = new Set(['23505', '23503', '40001', '40P01', '55P03']);
const INPUT_STATES = new Set(['22021', '22P05', '22001', '22003']);
const TIMEOUT_STATES = new Set(['57014', '25P03']); // query_canceled (statement_timeout), idle_in_transaction_session_timeout
const ROLE_STATES = new Set(['22023', '42704']); // set_config('role', …) naming a role that does not exist
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '53400']); // shutdowns, cannot_connect_now, too many connections

// postgres.js and Node socket error codes meaning "no usable connection to the database".
const CONNECTION_ERRORS = new Set([
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE',
]);

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const e = error as { code?: unknown; type?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (e?.name === 'PostgresError') {
    if (CONFLICT_STATES.has(code)) return new ApiError('conflict', { cause: error });
    if (TIMEOUT_STATES.has(code)) return new ApiError('timeout', { cause: error });
    // The caller's role (CALLERS "role", JWT_ROLE_CLAIM) is unknown to the database, or its grants or row-level
    // security refuse what the call does: the caller may not, so 403, never a 500.
    if (ROLE_STATES.has(code) && /^role ".*" does not exist$|parameter "role"/.test(String((error as Error).message))) {
      return new ApiError('forbidden', { message: 'The caller\'s database role does not exist', cause: error });
    }
    if (code === '42501') return new ApiError('forbidden', { message: 'The database refused this call to this caller (grants or row-level security)', cause: error });
    // Data exceptions that a param value causes (a NUL character, an untranslatable character, a string too long for
    // its column, a number out of range): the caller's input, so a 400, without the database's wording. Other data
    // exceptions (a division by zero, a bad cast in the handler's own SQL) stay 500s.
    if (INPUT_STATES.has(code)) {
      return new ApiError('invalid_params', { message: 'A param value is not acceptable to the database', cause: error });
    }
    if (UNAVAILABLE_STATES.has(code) || code.startsWith('08')) {
      return new ApiError('unavailable', { cause: error, headers: RETRY_AFTER });
    }
    return new ApiError('internal', { cause: error });
  }
  if (CONNECTION_ERRORS.has(code)) return new ApiError('unavailable', { cause: error, headers: RETRY_AFTER });
  return new ApiError('internal', { cause: error });
}
