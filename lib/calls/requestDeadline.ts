// The caller's deadline from `Request-Timeout: <milliseconds>`: when its call must be answered, or none.
import { ApiError } from '../errors/ApiError';

// Whole milliseconds, 1 to a day: longer budgets are no budget (the server's own limits are shorter).
const MS = /^[1-9][0-9]{0,7}$/;

/** `arrived`: the call's `performance.now()` when it reached the gateway; the result is on the same clock. */
export function requestDeadline(header: string, arrived: number): number | undefined {
  if (!header) return undefined;
  if (!MS.test(header.trim())) {
    throw new ApiError('bad_request', { message: 'Request-Timeout must be a whole number of milliseconds (1 to 99999999)' });
  }
  return arrived + Number(header.trim());
}
