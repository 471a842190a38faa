// What a load balancer's health check sees: GET /health and /ready every 200 ms, each on a new connection, on the
// gateway's port and on its management port (METRICS_PORT), from a process of its own (so the time measured is the
// gateway's, not the event loop of whatever generates the load). Prints one JSON line per probe:
// {"port","path","status","ms"}, and {"rss"} from the management port's /metrics. Used by `npm run faults`.
import { get } from 'node:http';

const [gateway, management] = process.argv.slice(2);
if (!gateway || !management) throw new Error('usage: probeHealth <http://host:port> <http://host:management-port>');

function probe(url: string): Promise<{ status: number; ms: number; body: string }> {
  const t = performance.now();
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t, body }));
      res.on('error', () => resolve({ status: 0, ms: performance.now() - t, body: '' }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t, body: '' }));
  });
}

async function main() {
  for (;;) {
    for (const [port, base] of [['gateway', gateway], ['management', management]] as const) {
      for (const path of ['/health', '/ready']) {
        const { status, ms } = await probe(base + path);
        process.stdout.write(`${JSON.stringify({ port, path, status, ms })}\n`);
      }
    }
    const metrics = await probe(`${management}/metrics`);
    const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics.body)?.[1] ?? 0);
    process.stdout.write(`${JSON.stringify({ rss })}\n`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

void main();
