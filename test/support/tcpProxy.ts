// A loopback TCP proxy the tests control: it can refuse connections (database down) or cut every one (a restart).
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Rewrites a postgres:// URL to go through the proxy. */
  url(target: string): string;
  /** Stops forwarding: new connections are closed at once and open ones are cut. */
  down(): void;
  up(): void;
  /** Cuts every open connection (as a database restart does) but keeps accepting. */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let isUp = true;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    if (!isUp) return void client.destroy();
    const upstream = connect(targetPort, targetHost);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const cut = () => {
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    port,
    url(target) {
      const u = new URL(target);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    down() {
      isUp = false;
      cut();
    },
    up() {
      isUp = true;
    },
    cut,
    close: () => new Promise<void>((r) => {
      cut();
      server.close(() => r());
    }),
  };
}
