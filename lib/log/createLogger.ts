// Builds the pino logger: ECS JSON lines to the log file and to stdout (pino.multistream, not a transport).
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import { ecsFormat } from '@elastic/ecs-pino-format';

export type { Logger };

/**
 * The gateway's logger; `access` writes the access lines to the same destinations. `flushPending()` writes every line
 * still batched, after the writes already in flight (shutdown, tests).
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
// request itself under load. Shutdown writes what is pending (main.ts calls flushPending()).
const BATCH = { sync: false, minLength: 4096, periodicFlush: 500 };

export function createLogger({ level, file, streams = [], stdout = true }: LoggerOptions): AppLogger {
  const destinations: pino.StreamEntry[] = streams.map((stream) => ({ stream, level: 'trace' as const }));
  if (file) {
    mkdirSync(dirname(file), { recursive: true });
    // Opened here, not by sonic-boom in the background: a start that fails at once (a module error) exits while an
    // asynchronously opened file is not ready yet, and pino's exit flush then throws "sonic boom is not ready yet".
    destinations.push({ stream: pino.destination({ dest: openSync(file, 'a'), ...BATCH }), level: 'trace' });
  }
  if (stdout) destinations.push({ stream: pino.destination({ dest: 1, ...BATCH }), level: 'trace' });
  const multi = pino.multistream(destinations);
  const ecs = ecsFormat({ convertErr: true });
  const log = pino({ ...ecs, level, redact: { paths: REDACT, censor: '[redacted]' } }, multi);
  // Access lines are built by the gateway from known fields and carry no secret: they skip the redaction pass, which
  // cost about a tenth of a small call's CPU. They are ECS-shaped already (no `err`, `req` or `res` to convert), so
  // they also skip the ECS formatter's per-line copy of the object; its level, bindings and @timestamp stay.
  const access = pino({ ...ecs, formatters: { level: ecs.formatters!.level, bindings: ecs.formatters!.bindings }, level }, multi);
  return Object.assign(log, {
    access,
    async flushPending() {
      const boomed = destinations.map((d) => d.stream as unknown as Batching).filter((s) => typeof s.flushSync === 'function');
      for (const s of boomed) {
        await writesDone(s);
        s.flushSync(); // at once after the wait: no other write can start in between
      }
    },
  });
}

/** A batching destination (pino's sonic-boom): `_writing` while an asynchronous write is in flight. */
interface Batching {
  flushSync(): void;
  _writing?: boolean;
}

// sonic-boom's flushSync() writes the pending lines at once even while an asynchronous write of earlier lines is still
// in flight, so the earlier lines could land after them (pinojs/sonic-boom#101): wait for that write first. Bounded, so
// a destination that never finishes (a stdout nobody reads) cannot hold a shutdown: past the bound the lines are
// written anyway (out of order rather than lost).
async function writesDone(s: Batching, boundMs = 2_000): Promise<void> {
  const until = performance.now() + boundMs;
  while (s._writing && performance.now() < until) await new Promise((r) => setTimeout(r, 1));
}
