// A calling service: its name, the SHA-256 digests of its tokens, the actions it may call, whether it may dry-run, and
// who it is inside PostgreSQL (its role, its JWT claims).
export interface Caller {
  readonly name: string;
  readonly tokenHashes: readonly Buffer[];
  readonly allow: readonly string[];
  /** May send `Prefer: tx=rollback`. */
  readonly dryRun: boolean;
  /** Calls this caller may have running at once on one replica (its fair share); over it 429. Omitted: the default
   *  (CALLER_MAX_CONCURRENT); 0: no limit. */
  readonly maxConcurrent?: number;
  /** The PostgreSQL role its transactions take (`SET LOCAL ROLE`); none: the pool's user. */
  readonly role?: string;
  /** A JWT caller's verified claims (`dbapi.claims` in its transactions); none for static callers (`{}`). */
  readonly claims?: Readonly<Record<string, unknown>>;
}
