// The socket watchdog: a connection whose path went silent is closed (503) within seconds; a slow statement on a
// reachable server is left alone. The path is a loopback proxy that can go silent: it stops forwarding without
// closing anything, and stops accepting, so a probe gets no connection (iptables does the same in `npm run faults`).
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createDatabases, type Databases } from './createDatabases';
import { toApiError } from '../errors/toApiError';
import { createTestDatabase, type TestDatabase } from '../../test/support/testDatabase';

interface SilentProxy {
  url: string;
  silence(): Promise<void>;
  heal(): Promise<void>;
  close(): Promise<void>;
}

async function startSilentProxy(target: string): Promise<SilentProxy> {
  const to = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  const listen = (server: Server, port = 0) => new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const accept = (client: Socket) => {
    const upstream = connect(Number(to.port), to.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  };
  let server = createServer(accept);
  await listen(server);
  const port = (server.address() as AddressInfo).port;
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    async silence() {
      // Bytes already sent are swallowed, nothing new is passed on, no connection is closed.
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.removeAllListeners('data').on('data', () => {});
        upstream.removeAllListeners('data').on('data', () => {});
      }
      server.close(); // stops listening at once (its callback would wait for the open connections)
    },
    async heal() {
      server = createServer(accept);
      await listen(server, port);
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      if (server.listening) server.close();
    },
  };
}

let t: TestDatabase;
let proxy: SilentProxy;
let db: Databases;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());
beforeEach(async () => {
  proxy = await startSilentProxy(t.url);
  db = createDatabases({ default: proxy.url }, {
    poolMax: 2, connectTimeoutMs: 1000, idleTimeoutS: 0, statementTimeoutMs: 20_000, prepare: true,
    acquireTimeoutMs: 1000, transactionTimeoutMs: 20_000, probeAfterMs: 300,
  });
});
afterEach(async () => {
  await proxy.close();
  await db.end();
});

test('a statement whose answer never comes over a silent path is failed as unavailable, long before any timeout', async () => {
  let silenced = 0;
  const error = await db.transaction('default', { readOnly: true }, async (tx) => {
    await tx`select 1`;
    await proxy.silence();
    silenced = performance.now();
    await tx`select pg_sleep(0.2)`;
  }).catch((e: unknown) => e);
  expect(performance.now() - silenced).toBeLessThan(10_000); // the statement and transaction timeouts are 20 s
  const api = toApiError(error);
  expect([api.code, api.status, api.headers]).toEqual(['unavailable', 503, { 'Retry-After': '1' }]);
  expect((api.cause as { code?: string }).code).toBe('CONNECTION_CLOSED');
  await proxy.heal();
  expect(await db.transaction('default', { readOnly: true }, async (tx) => (await tx`select 2 as n`)[0].n)).toBe(2);
});

test('a slow statement on a reachable server is left alone', async () => {
  const value = await db.transaction('default', { readOnly: true }, async (tx) => {
    await tx`select pg_sleep(1.2)`; // four times DB_PROBE_AFTER_MS of silence: probed, reachable, left alone
    return (await tx`select 3 as n`)[0].n;
  });
  expect(value).toBe(3);
});
