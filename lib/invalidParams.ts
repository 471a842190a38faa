// Turns a zod error into the `invalid_params` ApiError, one `{ path, message }` per failing field.
import type { z } from 'zod';
import { ApiError } from './errors';

export function invalidParams(error: z.ZodError): ApiError {
  const details = error.issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: path ? `${path}.${key}` : key, message: 'Unknown field' }));
    }
    return [{ path, message: issue.message }];
  });
  return new ApiError('invalid_params', { details });
}
