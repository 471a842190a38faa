// Reads `Prefer: tx=rollback` (RFC 7240, as PostgREST spells it): a dry run, for callers whose settings allow it.
import type { AppContext } from '../http/AppState';
import { ApiError } from '../errors/ApiError';

const TX_ROLLBACK = /(^|[,;\s])tx\s*=\s*"?rollback"?\s*($|[,;])/i;

/** Whether this request asks for a dry run; 403 when its caller may not. Marks the response `Preference-Applied`. */
export function wantsDryRun(ctx: AppContext): boolean {
  if (!TX_ROLLBACK.test(ctx.get('prefer'))) return false;
  if (!ctx.state.caller?.dryRun) throw new ApiError('forbidden', { message: 'This caller may not use Prefer: tx=rollback' });
  ctx.set('Preference-Applied', 'tx=rollback');
  return true;
}
