// `npm run bench:stream [rows]`: streams rows through the real gateway and samples its RSS, to show memory stays flat.
// Uses DATABASE_URL when set, else the embedded PostgreSQL (as `npm start` does). Prints one JSON line per mode.
import { request } from 'node:http';
import { join } from 'node:path';
import { loadSettings } from '../src/settings';
import { startGateway } from '../src/startGateway';

const TOKEN = 'bench-token-0123456789abcdef';

async function main() {
  const rows = Number(process.argv[2] ?? 1_000_000);
  const root = join(__dirname, '..');
  const settings = loadSettings({ ...process.env, BEARER: TOKEN, LOG_FILE: '', LOG_LEVEL: 'warn' } as NodeJS.ProcessEnv, root);
  // The project's modules plus the test fixtures, whose `rows` module streams generate_series.
  const gateway = await startGateway(settings, { moduleDirs: [join(root, 'modules'), join(root, 'test', 'fixtures', 'modules')], stdout: false, listen: { host: '127.0.0.1', port: 0 } });
  const url = gateway.url;
  for (const [mode, path, accept] of [['ndjson', '/rows/series', 'application/x-ndjson'], ['json-array', '/rows/series', 'application/json'], ['collected (no streaming)', '/rows/collected', 'application/json']]) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 500));
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const start = Date.now();
    const { status, bytes, lines } = await post(url + path, { n: rows }, accept);
    clearInterval(timer);
    const mb = (n: number) => Math.round(n / 1024 / 1024);
    process.stdout.write(`${JSON.stringify({ mode, rows, status, lines, mbytes: mb(bytes), seconds: (Date.now() - start) / 1000, rssBeforeMB: mb(before), rssPeakMB: mb(peak), rssGrowthMB: mb(peak - before) })}\n`);
  }
  await gateway.stop();
}

/** POSTs and reads the answer as it comes, counting bytes and newlines but keeping nothing. */
function post(url: string, body: unknown, accept: string): Promise<{ status: number; bytes: number; lines: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept } }, (res) => {
      let bytes = 0;
      let lines = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      });
      res.on('end', () => resolve({ status: res.statusCode!, bytes, lines }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

main().catch((e) => {
  process.stderr.write(`bench:stream: ${e?.stack ?? e}\n`);
  process.exit(1);
});
