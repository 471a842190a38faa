// `npm run bench:stream [rows]`: streams rows through the real gateway and samples its RSS, to show memory stays flat.
// Uses DATABASE_URL when set, else the embedded PostgreSQL (as `npm start` does). Prints one JSON line per mode.
import { request } from 'node:http';
import { join } from 'node:path';
import { loadSettings } from '../src/settings';
import { createLogger } from '../lib/createLogger';
import { boot } from '../src/boot';
import { createApp } from '../src/app';
import { serve } from '../src/serve';
import { loadModules } from '../lib/loadModules';

const TOKEN = 'bench-token-0123456789abcdef';

async function main() {
  const rows = Number(process.argv[2] ?? 1_000_000);
  const settings = loadSettings({ ...process.env, BEARER: TOKEN, LOG_FILE: '', LOG_LEVEL: 'warn' } as NodeJS.ProcessEnv);
  const log = createLogger({ level: 'warn', stdout: false });
  const booted = await boot(settings, log);
  const modules = [...booted.modules, ...loadModules(join(__dirname, '..', 'test', 'fixtures', 'modules'), booted.db.names).filter((m) => m.name === 'rows')];
  const lifecycle = { draining: false };
  const serving = await serve(createApp({ settings, db: booted.db, log, modules, lifecycle }), lifecycle, { ...settings.http, host: '127.0.0.1', port: 0 }, log);
  const url = `http://127.0.0.1:${serving.port}`;
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
  await serving.drain();
  await booted.close();
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
