// Finds database connections on a network path that went silent (packets dropped, no RST) and closes them, so their
// calls are answered 503 in seconds rather than when TCP gives up (~15 minutes on Linux) or the transaction times out.
import { Socket, connect as tcpConnect } from 'node:net';

export interface WatchdogOptions {
  /** A connection that owes an answer and has heard nothing for this long gets its path probed (0: never). */
  probeAfterMs: number;
  /** How long the probe (a new TCP connection to the same host and port) may take before the path counts as down. */
  probeTimeoutMs: number;
}

export interface SocketWatchdog {
  /** postgres.js's `socket` option: opens the connection's socket and watches it. */
  socket(options: { host: string[]; port: number[]; path?: string | false; ssl?: unknown }): Socket;
  stop(): void;
}

interface Watched {
  socket: Socket;
  host: string;
  port: number;
  /** Something was written since the server last said it is ready for a query (it owes an answer). */
  owed: boolean;
  /** Since when it has been quiet while owing: the first write after ready, the last bytes heard, or the last probe. */
  quietSince: number;
}

/**
 * postgres.js offers no TCP user timeout (Node cannot set TCP_USER_TIMEOUT) and TCP keepalive does not probe while
 * sent data is unacknowledged, so a query written into a dropped path just waits. A long statement is also silent,
 * though, so silence alone proves nothing: after `probeAfterMs` of it the path is probed with a new TCP connection to
 * the same server. If the server accepts it, the silent connections are left alone (a slow statement; the statement
 * and transaction timeouts bound it); if not within `probeTimeoutMs`, they are closed (CONNECTION_CLOSED: 503).
 */
export function createSocketWatchdog(o: WatchdogOptions): SocketWatchdog {
  const watched = new Set<Watched>();
  const probing = new Set<string>(); // host:port probed right now
  let hostIndex = 0;
  const tickMs = Math.max(50, Math.min(500, o.probeAfterMs / 4));
  const ticker = o.probeAfterMs > 0 ? setInterval(check, tickMs).unref() : undefined;

  function check() {
    const now = performance.now();
    const suspects = new Map<string, Watched[]>();
    for (const w of watched) {
      if (!w.owed || now - w.quietSince < o.probeAfterMs) continue;
      const endpoint = `${w.host}:${w.port}`;
      if (probing.has(endpoint)) continue;
      suspects.set(endpoint, [...(suspects.get(endpoint) ?? []), w]);
    }
    for (const [endpoint, ws] of suspects) probe(endpoint, ws, now);
  }

  function probe(endpoint: string, ws: Watched[], started: number) {
    probing.add(endpoint);
    const { host, port } = ws[0];
    const p = tcpConnect({ host, port, timeout: o.probeTimeoutMs });
    const done = (reachable: boolean) => {
      p.destroy();
      probing.delete(endpoint);
      for (const w of ws) {
        if (!watched.has(w) || !w.owed || w.quietSince > started) continue; // it heard from the server meanwhile
        if (reachable) w.quietSince = performance.now(); // a slow statement: look again after another probeAfterMs
        // Closed without an error: postgres.js then fails every query sent on it at once (CONNECTION_CLOSED), where an
        // 'error' first would leave one written in between (a transaction's ROLLBACK) pending until the pool ends.
        else w.socket.destroy();
      }
    };
    p.once('connect', () => done(true));
    p.once('timeout', () => done(false));
    p.once('error', () => done(false));
  }

  return {
    socket({ host, port, path, ssl }) {
      const s = new Socket();
      const i = hostIndex++ % host.length;
      const w: Watched = { socket: s, host: host[i], port: port[i] ?? port[0], owed: true, quietSince: performance.now() };
      if (path) s.connect(path);
      else s.connect(w.port, w.host);
      // postgres.js reads these for TLS and its error messages, as on a socket it connected itself.
      Object.assign(s, { host: w.host, port: w.port });
      // A Unix socket has no network path to watch. Over TLS postgres.js hands this socket to a TLSSocket and takes its
      // listeners away, so what passes cannot be seen here: those connections rely on the statement, transaction and
      // acquire timeouts alone.
      if (path || (ssl && ssl !== 'disable')) return s;
      watched.add(w);
      const write = s.write;
      s.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
        if (!w.owed) {
          w.owed = true;
          w.quietSince = performance.now();
        }
        return write.apply(this, args);
      } as Socket['write'];
      s.on('data', (chunk: Buffer) => {
        w.quietSince = performance.now();
        if (endsWithReadyForQuery(chunk)) w.owed = false;
      });
      s.once('close', () => watched.delete(w));
      return s;
    },
    stop() {
      if (ticker) clearInterval(ticker);
      watched.clear();
    },
  };
}

// ReadyForQuery is 'Z', length 5, one status byte: the last message the server sends before it waits for the client.
function endsWithReadyForQuery(chunk: Buffer): boolean {
  const n = chunk.length;
  return n >= 6 && chunk[n - 6] === 0x5a && chunk[n - 5] === 0 && chunk[n - 4] === 0 && chunk[n - 3] === 0 && chunk[n - 2] === 5;
}
