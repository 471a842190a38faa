// A call's read-your-writes state from its `Dbapi-Min-Lsn` header: the LSN (as a previous write's `Dbapi-Lsn` gave
// it) that a replica must have replayed before it may serve this call's reads.
import type { Context } from 'koa';
import type { Consistency } from '../db/createDatabases';
import { parseLsn } from '../db/parseLsn';
import { ApiError } from '../errors/ApiError';

export function readConsistency(ctx: Context): Consistency {
  const header = ctx.get('dbapi-min-lsn');
  if (!header) return {};
  const minLsn = parseLsn(header.trim());
  if (minLsn === undefined) {
    throw new ApiError('invalid_params', {
      message: 'Dbapi-Min-Lsn must be an LSN as Dbapi-Lsn gives it, e.g. 0/16B3748',
      details: [{ path: 'Dbapi-Min-Lsn', message: 'invalid header' }],
    });
  }
  return { minLsn };
}
