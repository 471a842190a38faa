// Turns a zod error into the `invalid_params` ApiError: one `{ path, message }` per failing field, at most MAX_DETAILS
// of them (the message counts the rest), each path cut short, so a hostile body cannot make a large answer.
import type { z } from 'zod';
import { ApiError } from '../errors/ApiError';

const MAX_DETAILS = 20;
const MAX_PATH = 100;

const cut = (path: string) => (path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}…` : path);

export function invalidParams(error: z.ZodError): ApiError {
  const details: Array<{ path: string; message: string }> = [];
  let total = 0;
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.');
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : undefined;
    total += keys ? keys.length : 1;
    for (let i = 0; details.length < MAX_DETAILS && i < (keys ? keys.length : 1); i++) {
      if (keys) details.push({ path: cut(path ? `${path}.${keys[i]}` : keys[i]), message: 'Unknown field' });
      else details.push({ path: cut(path), message: issue.message });
    }
  }
  const message = total > details.length ? `The params do not match the action's schema (the first ${details.length} of ${total} problems are listed)` : undefined;
  return new ApiError('invalid_params', { message, details });
}
