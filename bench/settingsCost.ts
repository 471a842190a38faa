// `npx tsx bench/settingsCost.ts [--database-url URL]`: what the caller's transaction-local settings cost per
// transaction (gateway CPU and wall time), measured in-process on one pool: the same one-statement transaction
// without settings, with dbapi.caller + dbapi.claims (every call now), and with a role too (SET LOCAL ROLE).
import { parseArgs } from 'node:util';
import { createDatabases } from '../lib/db/createDatabases';
import type { TransactionOptions } from '../lib/db/runTransaction';

const { values: o } = parseArgs({ options: { 'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' }, n: { type: 'string', default: '4000' }, concurrency: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' } } });
const N = Number(o.n);
const CONCURRENCY = Number(o.concurrency);

(async () => {
  const db = createDatabases({ default: o['database-url']! }, {
    poolMax: CONCURRENCY, connectTimeoutMs: 3000, idleTimeoutS: 60, statementTimeoutMs: 30000, prepare: true, acquireTimeoutMs: 3000, transactionTimeoutMs: 60000,
  });
  const role = (await db.pool('default')`select current_user as u`)[0].u as string; // a role the pool's user surely may take
  const claims = JSON.stringify({ iss: 'https://idp.example.com', sub: 'billing', aud: 'dbapi', scope: 'example/*', exp: 2e9, iat: 1.9e9, azp: 'billing-client' });
  const variants: Array<[string, TransactionOptions]> = [
    ['no settings', { readOnly: false }],
    ['statement timeout only', { readOnly: false, statementTimeoutMs: 1234 }],
    ['caller + claims', { readOnly: false, settings: { 'dbapi.caller': 'billing', 'dbapi.claims': claims } }],
    ['caller + claims + role', { readOnly: false, settings: { 'dbapi.caller': 'billing', 'dbapi.claims': claims, role } }],
  ];
  const run = async (options: TransactionOptions) => {
    let next = 0;
    const cpu = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < N) await db.transaction('default', options, (tx) => tx`select 1 as one`);
    }));
    const d = process.cpuUsage(cpu);
    return { cpuUs: (d.user + d.system) / N, wallUs: Number(process.hrtime.bigint() - t0) / 1e3 / N };
  };
  for (const [, options] of variants) await run(options); // warm up: prepared statements, JIT
  const results = new Map<string, Array<{ cpuUs: number; wallUs: number }>>();
  for (let r = 0; r < Number(o.rounds); r++) {
    for (const [name, options] of variants) results.set(name, [...(results.get(name) ?? []), await run(options)]);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [name, rs] of results) {
    console.log(`${name.padEnd(24)} CPU ${median(rs.map((r) => r.cpuUs)).toFixed(1)} µs/tx   wall ${median(rs.map((r) => r.wallUs)).toFixed(1)} µs/tx (${CONCURRENCY} at once)`);
  }
  await db.end();
})();
