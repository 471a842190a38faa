// The `tx` handed to an action declared `database: false`: using it is a programming error, answered as `internal`.
import type { Tx } from '../db/Tx';
import { ApiError } from '../errors/ApiError';

export const noTransaction = (() => {
  throw new ApiError('internal', { cause: new Error('this action is declared with `database: false`: it has no transaction') });
}) as unknown as Tx;
