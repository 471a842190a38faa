// Finds the caller whose token an Authorization header carries, comparing SHA-256 digests in constant time.
import { timingSafeEqual } from 'node:crypto';
import type { Caller } from './Caller';
import { sha256 } from './sha256';
import { TOKEN68 } from './token68';

// Exactly one scheme word (any case), one space, one token of token68 characters: nothing before or after.
const BEARER = new RegExp(`^bearer (${TOKEN68.source.slice(1, -1)})$`, 'i');

export type CallerFinder = (header: string | undefined) => Caller | undefined;

export function callerFinder(callers: readonly Caller[]): CallerFinder {
  // Headers already verified, so a caller's next requests skip the parse, the digest and the comparisons. Only valid
  // tokens enter it: a hit's timing tells no more than the 200 it leads to, and an unknown token always takes the
  // full, constant-time path. Its size is bounded by the configured tokens (times the spellings of `Bearer`).
  const verified = new Map<string, Caller>();
  return (header) => {
    if (!header) return undefined;
    const known = verified.get(header);
    if (known) return known;
    const m = BEARER.exec(header);
    if (!m) return undefined;
    const token = m[1];
    const digest = sha256(token);
    let found: Caller | undefined;
    // Every hash is compared, so the time taken does not tell which caller (or how many) came close.
    for (const caller of callers) {
      for (const hash of caller.tokenHashes) if (timingSafeEqual(hash, digest) && !found) found = caller;
    }
    if (found) verified.set(header, found);
    return found;
  };
}
