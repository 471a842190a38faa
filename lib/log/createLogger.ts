// Builds the pino logger: ECS JSON lines to the log file and to stdout (pino.multistream, not a transport).
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import { ecsFormat } from '@elastic/ecs-pino-format';
import { register as onExit } from 'on-exit-leak-free';
import { isoNow } from './isoNow';

export type { Logger };

/**
 * The gateway's logger; `access` writes the access lines to the same destinations. `flushPending()` writes every line
 * still batched (shutdown, tests).
 */
export type AppLogger = Logger & { access: Logger; flushPending(): Promise<void> };

export interface LoggerOptions {
  level: string;
  file?: string;
  /** Extra or replacement destinations (tests pass an in-memory sink). */
  streams?: DestinationStream[];
  stdout?: boolean;
}

// Anything that can carry a secret is cut out, wherever a handler or library puts it.
const REDACT = ['req.headers.authorization', 'headers.authorization', 'authorization', 'token', 'password', '*.password', '*.token'];

// Lines are batched into writes of 4 KiB or every half second: one write syscall per line cost more CPU than the
// request itself under load. The writes are synchronous (pino's default): a batch is written by the call that fills
// it. Written from libuv's thread pool instead (`sync: false`), every line waited in memory for the write before it,
// long enough to outlive two scavenges: under example/foo load 643 of the 659 bytes promoted per call were log lines
// (16 now), the old generation filled with them (RSS under foo load 194-230 MiB, 144-170 now) and a foo call cost
// 49 µs of CPU (42 now; docs/PERFORMANCE.md). What is pending is written by flushPending() (shutdown) and on the
// process's 'exit' event (process.exit, the event loop ending, an uncaught exception): pino flushes only its
// asynchronous destinations there, so batchedDestination registers the same hook for ours. SIGKILL or the OOM killer
// lose the batch still filling (up to 4 KiB or half a second of lines). A destination that stops taking lines (a
// full stdout pipe) now stops the event loop until it takes them again (the write blocks, or on a non-blocking pipe
// sonic-boom sleeps 100 ms and tries again) instead of growing memory without bound; docs/RELIABILITY.md.
const BATCH = { sync: true, minLength: 4096, periodicFlush: 500 };

export function createLogger({ level, file, streams = [], stdout = true }: LoggerOptions): AppLogger {
  const destinations: pino.StreamEntry[] = streams.map((stream) => ({ stream, level: 'trace' as const }));
  if (file) {
    mkdirSync(dirname(file), { recursive: true });
    // Opened here, synchronously: a file that cannot be opened stops the start with its own error, and the exit
    // flush never meets a destination that is not open yet ("sonic boom is not ready yet").
    destinations.push({ stream: batchedDestination(openSync(file, 'a')), level: 'trace' });
  }
  if (stdout) destinations.push({ stream: batchedDestination(1), level: 'trace' });
  const multi = pino.multistream(destinations);
  // ECS's own timestamp made a new Date per line; isoNow formats the date once per second (the same text).
  const ecs = { ...ecsFormat({ convertErr: true }), timestamp: () => `,"@timestamp":"${isoNow()}"` };
  const log = pino({ ...ecs, level, redact: { paths: REDACT, censor: '[redacted]' } }, multi);
  // Access lines are built by the gateway from known fields and carry no secret: they skip the redaction pass, which
  // cost about a tenth of a small call's CPU. They are ECS-shaped already (no `err`, `req` or `res` to convert), so
  // they also skip the ECS formatter's per-line copy of the object; its level, bindings and @timestamp stay.
  // writeAccessLine serializes its lines itself with this logger's bindings, level filter and destinations.
  const access = pino({ ...ecs, formatters: { level: ecs.formatters!.level, bindings: ecs.formatters!.bindings }, level }, multi);
  return Object.assign(log, {
    access,
    async flushPending() {
      multi.flushSync(); // each destination that batches
    },
  });
}

/** A destination that writes batches synchronously, and what is still batched when the process exits. */
function batchedDestination(fd: number): DestinationStream {
  const stream = pino.destination({ dest: fd, ...BATCH });
  onExit(stream, flushOnExit);
  return stream;
}

function flushOnExit(stream: { destroyed?: boolean; flushSync(): void }): void {
  if (!stream.destroyed) stream.flushSync();
}
