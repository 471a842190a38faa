// The `tx` handed to an action declared `database: false`: using it is a programming error, answered as `internal`.
import type { TransactionSql } from 'postgres';
import { ApiError } from './errors';

export const noTransaction = (() => {
  throw new ApiError('internal', { cause: new Error('this action is declared with `database: false`: it has no transaction') });
}) as unknown as TransactionSql<Record<string, never>>;
