// A calling service: its name, the SHA-256 digests of its tokens, the actions it may call, and whether it may dry-run.
export interface Caller {
  readonly name: string;
  readonly tokenHashes: readonly Buffer[];
  readonly allow: readonly string[];
  /** May send `Prefer: tx=rollback`. */
  readonly dryRun: boolean;
}
