// Whether a value is a postgres.js query not yet answered (what `tx\`...\`` returns before it is awaited): its
// statement is the last of a handler that returned it, and it resolves to rows, never to a stream.
import type { PendingQuery, Row } from 'postgres';

export function isPendingQuery(value: unknown): value is PendingQuery<Row[]> {
  return value instanceof Promise && typeof (value as { execute?: unknown }).execute === 'function' && typeof (value as { describe?: unknown }).describe === 'function';
}
