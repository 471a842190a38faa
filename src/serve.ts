// Listens with timeouts suited to nginx in front, and drains gracefully on shutdown.
import { createServer, type Server } from 'node:http';
import type Koa from 'koa';
import type { Logger } from 'pino';
import type { Lifecycle } from '../lib/healthRoutes';
import { answerClientError } from '../lib/answerClientError';

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
  /** Stops accepting, lets in-flight requests finish (bounded), then closes every connection. */
  drain(): Promise<void>;
}

export async function serve(app: Koa<any>, lifecycle: Lifecycle, o: ServeOptions, log: Logger): Promise<Serving> {
  // Node checks header and request timeouts only every connectionsCheckingInterval (30 s by default): once a second
  // makes the timeouts below hold to within a second.
  const server = createServer({ connectionsCheckingInterval: 1_000 }, app.callback());
  // Above nginx's upstream keep-alive, so nginx, not node, closes idle upstream connections (no race, no 502).
  server.keepAliveTimeout = o.keepAliveTimeoutMs;
  // Slow clients cannot hold a socket for ever; Node measures both from a request's first byte, not the idle time
  // of a kept-alive connection, so they may be far below keepAliveTimeout.
  server.headersTimeout = o.headersTimeoutMs ?? 10_000;
  server.requestTimeout = Math.max(o.requestTimeoutMs ?? 30_000, server.headersTimeout);
  server.on('clientError', answerClientError); // JSON 408/400/431 instead of Node's empty answers
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  log.info({ server: { address: o.host, port } }, `dbapi listening on ${o.host}:${port}`);

  async function drain() {
    lifecycle.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Idle keep-alive sockets close at once (Node's server.close); busy ones close after their response
    // (keep-alive is refused while closing). The bound below ends whatever is still running.
    const timer = new Promise<void>((resolve) => setTimeout(resolve, o.shutdownTimeoutMs).unref());
    await Promise.race([closed, timer]);
    server.closeAllConnections();
  }
  return { server, port, drain };
}
