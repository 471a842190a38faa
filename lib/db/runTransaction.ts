// Runs one call's transaction: bounded wait for a connection, per-call statement timeout, bounded retry of conflicts.
import type { Sql } from 'postgres';
import type { Tx } from './Tx';
import { ApiError, RETRY_AFTER } from '../errors/ApiError';
import { toApiError } from '../errors/toApiError';
import { formatLsn } from './parseLsn';
import { isPendingQuery } from './isPendingQuery';

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  readOnly: boolean;
  isolation?: Isolation;
  /** `SET LOCAL statement_timeout` for this call; omitted: the pool's (DB_STATEMENT_TIMEOUT_MS). The calls' planner
   *  (lib/calls/transactionPlanner.ts) leaves it out when it equals the pool's. */
  statementTimeoutMs?: number;
  /** Extra attempts after a serialization failure or deadlock (only for actions safe to run again). */
  conflictRetries?: number;
  /** A dry run: the work's value is answered, then everything is rolled back. */
  rollback?: boolean;
  /**
   * Transaction-local settings (`SET LOCAL`: gone at commit), e.g. who called, sent in BEGIN's own message (see
   * beginPrelude), or `role` for a `SET LOCAL ROLE` in a statement pipelined behind BEGIN ahead of the work's first
   * statement (see sendPrelude): no extra round trip either way.
   */
  settings?: Readonly<Record<string, string>>;
  /**
   * The caller's deadline (`performance.now()` time, from `Request-Timeout`): the acquire wait and the whole
   * transaction end by it too (then 504), and the statement timeout is at most what is left of it.
   */
  deadline?: number;
}

/** A call's read-your-writes state: the LSN its reads need (Dbapi-Min-Lsn) in, the LSN its commit reached out. */
export interface Consistency {
  /** A read is served by a replica only once it has replayed this far. */
  minLsn?: bigint;
  /** Set on commit when asked for (`lsnAfterCommit`): an LSN at or after the commit record (`Dbapi-Lsn`). */
  lsn?: string;
  /** Ask for `lsn`: `select pg_current_wal_insert_lsn()` sent with the COMMIT, in the same message (no round trip). */
  lsnAfterCommit?: boolean;
  /**
   * On a replica: check in the transaction, ahead of the work's first statement (pipelined, no round trip), that it
   * has replayed `minLsn`; if not, the transaction fails with ReplicaBehindError (the replica set's view of it is a
   * few ms old, and a replica that restarted may briefly be behind where it was).
   */
  checkReplayed?: boolean;
}

/** A replica had not replayed a call's Dbapi-Min-Lsn after all: the call runs on the primary instead. */
export class ReplicaBehindError extends Error {
  name = 'ReplicaBehindError';
}

export interface TransactionLimits {
  /** How long a call may wait for a connection (its BEGIN written) before it is answered 503. */
  acquireTimeoutMs: number;
  /** How long a started transaction may take in all before its call is answered (and it is rolled back). */
  transactionTimeoutMs: number;
  /** Most calls waiting for a connection of this pool (DB_MAX_WAITING) beyond the poolMax it runs; more → 503 at once. */
  maxWaiting?: number;
  poolMax?: number;
  /** This pool's calls now, running or waiting: shared by every call on the pool. */
  queue?: { calls: number };
  /** The database's transactions, counted as they go (plain numbers: the metrics read them when scraped). */
  counts?: TransactionCounts;
  /** When this pool last committed a transaction (`performance.now()`): /ready takes it as the database answering. */
  lastCommitAt?: number;
}

/** A database's transactions: now waiting for a connection, now running, and how many ended each way so far. */
export interface TransactionCounts {
  waiting: number;
  running: number;
  commits: number;
  /** Errors, dry runs, and calls answered before their transaction could finish. */
  rollbacks: number;
}

/**
 * The work done in a transaction. `deadline.signal` aborts when the transaction has run for transactionTimeoutMs:
 * work that waits on something else (a stream's reader) stops then, so the connection is released.
 */
export type TransactionWork<T> = (tx: Tx, deadline: TransactionDeadline) => Promise<T> | T;

/** The transaction's deadline as a signal, made only when asked for (streams do): an AbortController per call costs. */
export interface TransactionDeadline {
  readonly signal: AbortSignal;
}

const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

export function runTransaction<T>(sql: Sql, limits: TransactionLimits, o: TransactionOptions, fn: TransactionWork<T>, consistency?: Consistency): Promise<T> {
  // Most actions take no retries: their one attempt is the answer, without a retry loop's async frame around it.
  return o.conflictRetries ? withRetries(sql, limits, o, fn, consistency) : attemptOnce(sql, limits, o, fn, consistency);
}

async function withRetries<T>(sql: Sql, limits: TransactionLimits, o: TransactionOptions, fn: TransactionWork<T>, consistency?: Consistency): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptOnce(sql, limits, o, fn, consistency);
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (!RETRYABLE.has(code) || attempt >= (o.conflictRetries ?? 0)) throw e;
      // Jittered, growing pause so the transactions that collided do not collide again in lockstep.
      await new Promise((r) => setTimeout(r, (10 + Math.random() * 40) * 2 ** attempt));
    }
  }
}

// The insert position, not pg_current_wal_lsn() (the write position): with synchronous_commit off the commit record may
// not be written yet when COMMIT answers, but it is always inserted.
const LSN_AFTER_COMMIT = 'select pg_current_wal_insert_lsn()::text as lsn';
// Fails (division by zero) unless the replica has replayed $1: the transaction is then aborted before the work runs.
const REPLAYED = 'select 1 / coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)::int';

function attemptOnce<T>(sql: Sql, limits: TransactionLimits, o: TransactionOptions, fn: TransactionWork<T>, consistency?: Consistency): Promise<T> {
  // A bounded queue: past poolMax running and maxWaiting waiting for this pool, a call is refused at once rather than
  // after waiting acquireTimeoutMs in a line that cannot be served in time anyway. A call counts until its transaction
  // ends, or its BEGIN fails, even after it was answered 503: postgres.js still holds it in its queue until then.
  const queue = limits.queue;
  if (queue && limits.maxWaiting !== undefined && queue.calls >= limits.poolMax! + limits.maxWaiting) {
    return Promise.reject(new ApiError('unavailable', { message: 'Too many calls are waiting for a database connection; retry later', headers: RETRY_AFTER }));
  }
  // What is left of the caller's own deadline bounds the acquire wait and the transaction, never beyond the server's.
  const left = o.deadline === undefined ? Infinity : o.deadline - performance.now();
  if (left <= 0) return Promise.reject(callerDeadline('before a database connection was taken'));
  return new Attempt(limits, o, fn, consistency, Math.min(limits.acquireTimeoutMs, left)).run(sql);
}

/**
 * One attempt at a transaction: its state in an object, not in closures made per call (they were the largest share of
 * what a call allocated in this file). It is also the work's TransactionDeadline.
 *
 * postgres.js has no acquisition timeout (porsager/postgres#824) and a queued BEGIN cannot be withdrawn, so the
 * guarantee is made here: once a call is answered 503, its transaction, should it start later, rolls back at once
 * without running the handler. The same holds at the other end: a started transaction that outlives
 * transactionTimeoutMs (a statement that never answers, a connection lost without a word) is answered, and if its
 * handler returns after all, it rolls back.
 */
class Attempt<T> implements TransactionDeadline {
  private state: 'waiting' | 'started' | 'committing' | 'answered' = 'waiting';
  /** The work was started: a connection was taken and BEGIN sent. */
  private ran = false;
  private acquireTimer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  /** The started transaction's bound, and whether it is the caller's Request-Timeout rather than the server's. */
  private limitMs = 0;
  private byCaller = false;
  private expired?: AbortController;
  private expiredBy?: Error;
  private committed?: { afterCommit?: unknown };
  /** COMMIT went out behind the work's statement (commitBehind). */
  private commitSent = false;
  private behind = false;
  private resolve!: (value: T) => void;
  private reject!: (error: unknown) => void;

  constructor(
    private readonly limits: TransactionLimits,
    private readonly o: TransactionOptions,
    private fn: TransactionWork<T>,
    private consistency: Consistency | undefined,
    private readonly acquireMs: number,
  ) {}

  /** Made only when asked for (streams do): an AbortController per call costs. */
  get signal(): AbortSignal {
    if (!this.expired) {
      this.expired = new AbortController();
      if (this.expiredBy) this.expired.abort(this.expiredBy);
    }
    return this.expired.signal;
  }

  run(sql: Sql): Promise<T> {
    const { queue, counts } = this.limits;
    if (queue) queue.calls++;
    if (counts) counts.waiting++;
    const answer = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.acquireTimer = setTimeout(Attempt.acquireExpired, this.acquireMs, this);
    // What cannot fail (the statement timeout, who called) travels in BEGIN's own message: see beginPrelude. And the
    // work starts once BEGIN is written, not answered (our postgres.js patch): its first statement leaves in the same
    // socket write, a round trip less; if BEGIN fails after all, so does the transaction, with BEGIN's error.
    const work = Object.assign((tx: Tx) => this.work(tx), { prelude: beginPrelude(this.o), pipelined: true });
    const access = this.o.readOnly ? 'read only' : 'read write';
    const mode = this.o.isolation ? `isolation level ${this.o.isolation} ${access}` : access;
    sql.begin(mode, work as (tx: unknown) => Promise<unknown>).then((value) => this.committedWith(value as T), (e) => this.failedWith(e));
    return answer;
  }

  private static acquireExpired<U>(self: Attempt<U>): void {
    if (self.state !== 'waiting') return;
    if (self.acquireMs < self.limits.acquireTimeoutMs) self.answerNow(callerDeadline('before a database connection was free'));
    else self.answerNow(new ApiError('unavailable', { message: 'No database connection was free in time; retry later', headers: RETRY_AFTER }));
  }

  private static transactionExpired<U>(self: Attempt<U>): void {
    const cause = new Error(`transaction still ${self.state} after ${self.limitMs} ms${self.byCaller ? ' (the caller\'s Request-Timeout)' : ''}`);
    self.expiredBy = cause;
    self.expired?.abort(cause);
    if (self.state === 'started') self.answerNow(self.byCaller ? callerDeadline('before the call finished', cause) : new ApiError('timeout', { cause }));
    // The commit was sent but not confirmed: its outcome is unknown, so a retry must carry the same Idempotency-Key.
    else if (self.state === 'committing') self.answerNow(commitUnconfirmed(cause));
  }

  private answerNow(error: ApiError): void {
    this.state = 'answered';
    this.reject(error);
  }

  /** Read afresh: the timers change the state while the handler awaits. */
  private answered(): boolean {
    return this.state === 'answered';
  }

  private async work(tx: Tx): Promise<T> {
    const { o, limits, consistency } = this;
    const counts = limits.counts;
    this.ran = true;
    if (counts) {
      counts.waiting--;
      counts.running++;
    }
    if (this.answered()) throw new AbandonedError();
    this.state = 'started';
    clearTimeout(this.acquireTimer);
    const remaining = o.deadline === undefined ? Infinity : o.deadline - performance.now();
    this.byCaller = remaining < limits.transactionTimeoutMs;
    this.limitMs = Math.max(0, Math.min(limits.transactionTimeoutMs, remaining));
    this.deadlineTimer = setTimeout(Attempt.transactionExpired, this.limitMs, this);
    const prelude = sendPrelude(tx, o, this.byCaller ? this.limitMs : undefined);
    const replayed = consistency?.checkReplayed && consistency.minLsn !== undefined
      ? tx.unsafe(REPLAYED, [formatLsn(consistency.minLsn)], { prepare: true }).execute().then(() => true, () => !(this.behind = true))
      : undefined;
    const pending = this.fn(tx, this);
    // Not for a dry run (it must not commit), a replica's replay check (its failure is answered by the primary), or a
    // caller's Request-Timeout (its 504 promises a rollback).
    if (!o.rollback && !replayed && o.deadline === undefined) this.commitBehind(tx, pending, prelude ? 1 : 0);
    const value = await pending;
    // A failed prelude aborts the transaction, and a COMMIT then only rolls back: never answer before it is known.
    if (prelude) await prelude;
    if (replayed && !(await replayed)) throw new ReplicaBehindError();
    // Answered already (504: roll back, never commit; or 503 once COMMIT went behind the statement: its outcome stands)
    if (this.answered()) throw new AbandonedError();
    if (o.rollback) throw new DryRun(value); // postgres.js rolls back on throw; the value rides out on the error
    if (!this.commitSent) {
      this.state = 'committing';
      this.askLsn(tx);
    }
    return value;
  }

  /**
   * The work's value is its one statement, not yet answered (a handler that returned `tx\`...\`` itself): COMMIT is
   * sent right behind it, in the same socket write, one round trip less (our postgres.js patch: `commitBehind`, which
   * checks that no other statement of the work came before it; `own`: the statements sent here ahead of the work). If
   * the statement fails, the server answers that COMMIT with ROLLBACK, as if it had waited. From then on the outcome
   * is the commit's: a transaction timeout or a lost connection answers 503 (commit unconfirmed), not 504.
   */
  private commitBehind(tx: Tx, pending: unknown, own: number): void {
    if (!isPendingQuery(pending)) return;
    this.askLsn(tx);
    (tx as { commitBehind?(q: unknown, own: number, onsent: () => void): void }).commitBehind?.(pending, own, () => {
      this.commitSent = true;
      this.state = 'committing';
    });
  }

  /**
   * Our postgres.js patch sends this with its COMMIT, as one simple-protocol query `commit; select …` (a separate
   * pipelined query cost ~37 µs of CPU per write, this ~5-10: bench/lsnCost.ts), and leaves the rows in its place.
   */
  private askLsn(tx: Tx): void {
    if (this.consistency?.lsnAfterCommit) (this.committed = tx as { afterCommit?: unknown }).afterCommit = LSN_AFTER_COMMIT;
  }

  private ended(committed: boolean): void {
    const { queue, counts } = this.limits;
    if (queue) queue.calls--;
    clearTimeout(this.acquireTimer);
    clearTimeout(this.deadlineTimer);
    if (!counts) return;
    if (!this.ran) counts.waiting--;
    else {
      counts.running--;
      if (committed) counts.commits++;
      else counts.rollbacks++;
    }
  }

  private committedWith(value: T): void {
    this.ended(true);
    this.limits.lastCommitAt = performance.now();
    if (this.committed) this.consistency!.lsn = (this.committed.afterCommit as Array<{ lsn: string }>)[0]?.lsn;
    if (!this.answered()) this.resolve(value);
    this.letGo();
  }

  /**
   * Once answered and ended, the attempt drops the call's work, its answer's resolvers and its consistency: postgres.js
   * still holds the transaction's closures (and through them this attempt) for a while, often long enough for V8 to
   * move them to the old generation, and whatever they still reached went with them: the call's koa context, its
   * request and response (paired under bar load: CPU per call 0.965x, req/s 1.032x).
   */
  private letGo(): void {
    this.fn = this.resolve = this.reject = ignore;
    this.consistency = this.committed = undefined;
  }

  private failedWith(e: unknown): void {
    this.ended(false); // a dry run too: it rolled back
    if (this.answered()) return this.letGo(); // this call was already answered
    if (e instanceof DryRun) this.resolve(e.value as T);
    else if (this.behind) this.reject(new ReplicaBehindError()); // the work failed on the aborted transaction (25P02)
    // A write's COMMIT was sent and the connection went before its answer: the outcome is unknown, as at the timeout.
    // (A read-only transaction has nothing to lose: its error goes on as it is, so a replica's is retried elsewhere.)
    else if (!this.o.readOnly && this.state === 'committing' && toApiError(e).code === 'unavailable') this.reject(commitUnconfirmed(e));
    else this.reject(e);
    this.letGo();
  }
}

const ignore = (): never => undefined as never;

// The settings a transaction starts with that cannot fail on a live connection (the action's statement timeout,
// transaction-local values such as who called) as `set local` statements with literal values that our postgres.js
// patch sends in BEGIN's own message (`begin ...; set local ...`, simple protocol): no round trip and no statement of
// their own, and no rows to parse (a `select set_config(...)` answered one: ~15 µs more per transaction).
// A separate pipelined statement cost 56-75 µs of CPU per transaction (bench/settingsCost.ts).
// Each part is built once: the timeout's per value (one per action), the settings' per settings object (a caller's are
// made once and frozen: transactionSettings).
function beginPrelude(o: TransactionOptions): string | undefined {
  const timeout = o.statementTimeoutMs !== undefined && o.deadline === undefined ? timeoutPrelude(o.statementTimeoutMs) : '';
  const settings = o.settings ? settingsPrelude(o.settings) : '';
  return timeout && settings ? `${timeout}; ${settings}` : timeout || settings || undefined;
}

const timeoutPreludes = new Map<number, string>();
function timeoutPrelude(ms: number): string {
  let text = timeoutPreludes.get(ms);
  if (text === undefined) timeoutPreludes.set(ms, (text = setLocal('statement_timeout', String(ms))));
  return text;
}

const settingsPreludes = new WeakMap<Readonly<Record<string, string>>, string>();
function settingsPrelude(settings: Readonly<Record<string, string>>): string {
  let text = settingsPreludes.get(settings);
  if (text === undefined) {
    text = Object.keys(settings).filter((name) => name !== 'role').map((name) => setLocal(name, settings[name])).join('; ');
    // Only a frozen object is known never to change after its text was made; another is built again next time.
    if (Object.isFrozen(settings)) settingsPreludes.set(settings, text);
  }
  return text;
}

// A setting's name as `set local` takes it: one or two lower-case parts (dbapi.caller), each quoted so that a reserved
// word (dbapi.user) is a name too, and short enough not to be cut at 63 bytes; any other name goes through set_config,
// which takes it as a string.
const SETTING_NAME = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;
const setLocal = (name: string, value: string) =>
  SETTING_NAME.test(name)
    ? `set local ${name.split('.').map((part) => `"${part}"`).join('.')} = ${literal(value)}`
    : `select set_config(${literal(name)}, ${literal(value)}, true)`;
// An escape-string literal: backslashes and quotes doubled, so it reads the same whatever standard_conforming_strings
// says. The values hold no NUL: caller names are printable ASCII (settings, jwtVerifier), claims are JSON.stringify's
// (which writes a NUL as \u0000), timeouts are digits.
function literal(value: string): string {
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

// What may fail (the caller's role: unknown, or not granted) and what is known only once the transaction started
// (what is left of the caller's deadline, as its statement timeout), as one `select set_config(...)` that is not
// awaited here: `.execute()` has postgres.js write it to the transaction's connection at once (its queries are lazy
// otherwise), so it travels with the work's first statement and runs before it. If it fails, the work's statements
// fail with 25P02 and postgres.js reports this statement's error instead.
// `leftMs`: what is left of the caller's deadline, the most any statement may now take.
function sendPrelude(tx: Tx, o: TransactionOptions, leftMs?: number): Promise<unknown> | undefined {
  const params: string[] = [];
  if (o.deadline !== undefined) {
    const timeoutMs = leftMs === undefined ? o.statementTimeoutMs : Math.min(o.statementTimeoutMs || Infinity, Math.max(1, Math.ceil(leftMs)));
    if (timeoutMs !== undefined) params.push('statement_timeout', String(timeoutMs));
  }
  if (o.settings?.role !== undefined) params.push('role', o.settings.role);
  if (params.length === 0) return undefined;
  // Prepared (when DB_PREPARE allows): postgres.js sends an unprepared statement with parameters as Parse/Describe
  // first and waits for the answer before anything else, a round trip that held back the work's first statement
  // (measured: 436 → 930-1240 µs per one-statement transaction, one at a time). Its texts are few (one per count).
  return tx.unsafe(preludeText(params.length / 2), params, { prepare: true }).execute();
}

const preludeTexts: string[] = [];
function preludeText(n: number): string {
  return (preludeTexts[n] ??= `select ${Array.from({ length: n }, (_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`);
}

/** The COMMIT was sent, and its answer did not come (in time): whether it committed is unknown. */
function commitUnconfirmed(cause: unknown): ApiError {
  return new ApiError('unavailable', { message: 'The database did not confirm the commit; retry with the same Idempotency-Key', headers: RETRY_AFTER, cause });
}

/** The caller's own deadline (`Request-Timeout`) passed: 504, and nothing it wrote is kept. */
function callerDeadline(when: string, cause?: unknown): ApiError {
  return new ApiError('timeout', { message: `The call's Request-Timeout passed ${when}; it was rolled back`, cause });
}

class DryRun {
  constructor(readonly value: unknown) {}
}

class AbandonedError extends Error {
  name = 'AbandonedError';
}
