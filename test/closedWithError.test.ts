// The root cause of the call that hung (until DB_TRANSACTION_TIMEOUT_MS) after killed backends: a connection closed by
// a socket error (EPIPE, ECONNRESET: a backend killed while its transaction was between statements) took the ROLLBACK
// that sql.begin sent in the meantime into its next session, where the next transaction's answers were taken as the
// phantom's and that transaction hung. patches/postgres+3.4.9.patch fails such queries when the socket closes.
import { Socket } from 'node:net';
import postgres from 'postgres';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

test('after a connection closed by a socket error mid-transaction, the next transaction on it runs', async () => {
  let socket: Socket | undefined;
  const url = new URL(t.url);
  const sql = postgres(t.url, {
    max: 1, onnotice: () => {},
    // The pool's one socket, kept so the test can fail it as a killed backend's EPIPE would (postgres.js's `socket`
    // option, missing from its types).
    ...({ socket: () => (socket = new Socket().connect(Number(url.port), url.hostname)) } as object),
  });
  try {
    const first = sql.begin(async (tx) => {
      await tx`select 1`;
      socket!.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      await tx`select 2`; // fails with the socket's error; sql.begin then sends its ROLLBACK before 'close'
    });
    await expect(first).rejects.toBeTruthy();
    const second = sql.begin(async (tx) => (await tx`select 3 as n`)[0].n);
    const hung = new Promise((r) => setTimeout(r, 5_000, 'hung')); // the next transaction never answered, before
    expect(await Promise.race([second, hung])).toBe(3);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('a session lost while it looks up the array types (just connected) ends no process, and the next call runs', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  let lost = false;
  const sql = postgres(t.url, {
    max: 1, onnotice: () => {},
    // Each session's socket; the first one fails as soon as the array types lookup is written (a backend killed then).
    ...watchedWrites((socket, chunk, sent) => {
      if (!lost && chunk.includes('typarray')) {
        lost = true;
        setImmediate(() => socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
      }
      return sent;
    }),
  });
  try {
    await expect(sql`select 1 as n`).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect((await sql`select 2 as n`)[0].n).toBe(2);
    await new Promise((r) => setTimeout(r, 100));
    expect([lost, unhandled]).toEqual([true, []]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await sql.end({ timeout: 1 });
  }
});

test('queries waiting for a transaction\'s connection fail when it closes: the work awaiting them does not wait for ever', async () => {
  let socket: Socket | undefined;
  const sql = postgres(t.url, {
    max: 1, onnotice: () => {},
    // The slow statement's write reports backpressure: postgres.js then holds the transaction's next query back until
    // the slow one is answered (as it does behind any statement it must describe first, with DB_PREPARE=false).
    ...watchedWrites((s, chunk, sent) => ((socket = s), sent && !chunk.includes('pg_sleep'))),
  });
  try {
    let waiting: Promise<unknown> | undefined;
    const transaction = sql.begin(async (tx) => {
      // Over 1 KiB, so postgres.js writes it at once (and sees the backpressure), and sent now (else: when awaited).
      const slow = tx`select pg_sleep(5), ${'x'.repeat(2_000)}::text as pad`.execute();
      waiting = tx`select 2 as n`.then(() => 'ran', () => 'failed');
      return Promise.all([slow, waiting]);
    });
    await new Promise((r) => setTimeout(r, 300)); // the slow statement runs, the second one waits behind it
    socket!.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await expect(transaction).rejects.toBeTruthy();
    const hung = new Promise((r) => setTimeout(r, 3_000, 'hung')); // unpatched, it never settled
    expect(await Promise.race([waiting!, hung])).toBe('failed');
  } finally {
    await sql.end({ timeout: 1 });
  }
});

/**
 * postgres.js's `socket` option (missing from its types): each session's socket to the test database, with `onWrite`
 * told of every write after it was made; what it returns is what the write reports (false: backpressure).
 */
function watchedWrites(onWrite: (socket: Socket, chunk: string, sent: boolean) => boolean): object {
  const url = new URL(t.url);
  return {
    socket: () => {
      const socket = new Socket().connect(Number(url.port), url.hostname);
      const write = socket.write;
      socket.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
        return onWrite(socket, String(chunk), (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest));
      } as Socket['write'];
      return socket;
    },
  };
}
