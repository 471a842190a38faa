import { ReplicaBehindError } from './runTransaction';

// Whether an error from a read on a replica is the replica's own fault, which the primary would not have: its
// connection lost or refused, its shutdown, a recovery conflict. Errors already answered (an ApiError: a stream cut off
// after its first item, a timeout) and the work's own errors are not.

// 57P01-03: admin/crash shutdown, cannot connect now; 40001: a query cancelled by a conflict with recovery (replay
// removed rows its snapshot still needed); 08xxx: connection exceptions.
const REPLICA_STATES = new Set(['57P01', '57P02', '57P03', '40001', '53300']);
const CONNECTION_ERRORS = new Set([
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE',
]);

export function isReplicaFault(error: unknown): boolean {
  if (error instanceof ReplicaBehindError) return true;
  const e = error as { code?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (e?.name === 'PostgresError') return REPLICA_STATES.has(code) || code.startsWith('08');
  return CONNECTION_ERRORS.has(code);
}
