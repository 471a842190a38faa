// The handler for any method but POST on a POST-only path: 405 with `Allow: POST`.
import { ApiError } from '../errors/ApiError';

export function methodNotAllowed(): never {
  throw new ApiError('method_not_allowed', { headers: { Allow: 'POST' } });
}
