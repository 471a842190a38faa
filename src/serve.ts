// Listens with timeouts suited to nginx in front, and drains gracefully on shutdown without racing nginx.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type Koa from 'koa';
import type { Logger } from 'pino';
import type { Lifecycle } from '../lib/http/Lifecycle';
import { BatchedResponse } from '../lib/http/BatchedResponse';

export interface ServeOptions {
  host: string;
  port: number;
  keepAliveTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Slow clients: all headers within this, the whole request (body included) within requestTimeoutMs. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface Serving {
  server: Server;
  port: number;
  /**
   * Turns /ready to 503, stops accepting, answers what still arrives on open connections with `Connection: close`,
   * waits for every connection to end (bounded by shutdownTimeoutMs), then cuts whatever is left.
   */
  drain(): Promise<void>;
}

/** `onClientError` answers what Node's HTTP parser rejects before koa sees it (lib/http/answerClientError.ts). */
export async function serve(app: Koa<any>, lifecycle: Lifecycle, o: ServeOptions, log: Logger, onClientError: (error: Error, socket: Socket) => void): Promise<Serving> {
  const handle = app.callback();
  // The responses in flight, for drain(). An array, not a Set: a Set rebuilds its hash table as entries come and go,
  // and every table it drops (often in V8's old generation by then) still points at responses of that moment, which
  // scavenges then keep, with all they reach, into the old generation: under bar load 6.2 KB promoted per request with
  // the Set, 2.1 with this, scavenge pauses 18 -> 11 µs per request (docs/PERFORMANCE.md). Removal scans the calls in
  // flight on this replica, a few hundred pointers at most.
  const inFlight: ServerResponse[] = [];
  // Node checks header and request timeouts only every connectionsCheckingInterval (30 s by default): once a second
  // makes the timeouts below hold to within a second.
  // Answers are written in bursts, one per turn of the event loop (lib/http/BatchedResponse.ts).
  const server = createServer({ connectionsCheckingInterval: 1_000, ServerResponse: BatchedResponse }, (req, res) => {
    inFlight.push(res);
    res.on('close', () => removeFrom(inFlight, res)); // emitted once: `on` spares once's wrapper
    // While draining, each answer closes its connection, so nginx never reuses it (nor can it race our close).
    if (lifecycle.draining) res.setHeader('Connection', 'close');
    void handle(req, res);
  });
  // Above nginx's upstream keepalive_timeout, so nginx, not node, closes idle upstream connections (no race, no 502).
  server.keepAliveTimeout = o.keepAliveTimeoutMs;
  // Slow clients cannot hold a socket for ever; Node measures both from a request's first byte, not the idle time
  // of a kept-alive connection, so they may be far below keepAliveTimeout.
  server.headersTimeout = o.headersTimeoutMs ?? 10_000;
  server.requestTimeout = Math.max(o.requestTimeoutMs ?? 30_000, server.headersTimeout);
  server.on('clientError', onClientError); // JSON 408/400/431 instead of Node's empty answers
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const local = o.host === '0.0.0.0' || o.host === '::' ? 'localhost' : o.host.includes(':') ? `[${o.host}]` : o.host;
  log.info({ server: { address: o.host, port } }, `dbapi listening on ${o.host}:${port} (docs: http://${local}:${port}/docs)`);

  let drained: Promise<void> | undefined;
  function drain() {
    drained ??= (async () => {
      lifecycle.draining = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      // net.Server's close, not http.Server's: since Node 19 the latter also destroys idle keep-alive sockets at
      // once, and nginx may be writing a POST into one of them at that very moment (a 502 it cannot retry).
      // Idle sockets are left to nginx, which closes them after its upstream keepalive_timeout (below ours).
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, o.shutdownTimeoutMs, 'timeout')));
      const outcome = await Promise.race([closed, bound]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        log.warn({ server: { open_requests: inFlight.length } }, 'shutdown timeout: closing the remaining connections');
      }
      server.closeAllConnections();
    })();
    return drained;
  }
  return { server, port, drain };
}

/** Takes `item` out of `list` in place, the last entry filling its slot (the order does not matter here). */
function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i < 0) return;
  const last = list.pop()!;
  if (i < list.length) list[i] = last;
}
