// Builds the pino logger: ECS JSON lines to the log file and to stdout (pino.multistream, not a transport).
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import { ecsFormat } from '@elastic/ecs-pino-format';

export type { Logger };

/** The gateway's logger; `access` writes the access lines to the same destinations. */
export type AppLogger = Logger & { access: Logger; flush(): void };

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
// request itself under load. Shutdown flushes what is pending (main.ts calls flush()).
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
  const log = pino({ ...ecsFormat({ convertErr: true }), level, redact: { paths: REDACT, censor: '[redacted]' } }, multi);
  // Access lines are built by the gateway from known fields and carry no secret: they skip the redaction pass, which
  // cost about a tenth of a small call's CPU. They are ECS-shaped already (no `err`, `req` or `res` to convert), so
  // they also skip the ECS formatter's per-line copy of the object; its level, bindings and @timestamp stay.
  const ecs = ecsFormat({ convertErr: true });
  const access = pino({ ...ecs, formatters: { level: ecs.formatters!.level, bindings: ecs.formatters!.bindings }, level }, multi);
  return Object.assign(log, {
    access,
    flush() {
      for (const d of destinations) (d.stream as { flushSync?: () => void }).flushSync?.();
    },
  });
}
