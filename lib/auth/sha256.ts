// SHA-256 digest of a text: token digests (auth, settings) and params digests (idempotency).
import { createHash } from 'node:crypto';

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
