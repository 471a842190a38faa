// The CPU a write's Dbapi-Lsn costs the gateway: the same write transactions with and without the LSN statement
// pipelined behind COMMIT, alternating, measured with process.cpuUsage() (client side only: what the gateway pays).
// `npx tsx bench/lsnCost.ts [--database-url URL] [--calls 4000] [--rounds 6]`
import { parseArgs } from 'node:util';
import { connect } from '../lib/db/createDatabases';
import { runTransaction, type Consistency } from '../lib/db/runTransaction';

const { values: o } = parseArgs({ options: {
  'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  calls: { type: 'string', default: '4000' }, rounds: { type: 'string', default: '6' },
} });

async function main() {
  const sql = connect(o['database-url']!, { poolMax: 10, connectTimeoutMs: 3000, idleTimeoutS: 60, statementTimeoutMs: 30000, prepare: true, acquireTimeoutMs: 3000, transactionTimeoutMs: 60000 });
  await sql`create temporary table if not exists lsn_cost (id int primary key, n int)`.catch(() => {});
  await sql`create table if not exists dbapi_lsn_cost (id int primary key, n int)`;
  const limits = { acquireTimeoutMs: 3000, transactionTimeoutMs: 60000 };
  const calls = Number(o.calls);
  const run = async (lsn: boolean) => {
    const start = process.cpuUsage();
    const t0 = performance.now();
    // 10 at a time, as a pool of 10 under load would.
    await Promise.all(Array.from({ length: 10 }, async (_, w) => {
      for (let i = w; i < calls; i += 10) {
        const c: Consistency | undefined = lsn ? { lsnAfterCommit: true } : undefined;
        await runTransaction(sql, limits, { readOnly: false }, (tx) => tx`insert into dbapi_lsn_cost values (${i % 1000}, 1) on conflict (id) do update set n = dbapi_lsn_cost.n + 1`, c);
        if (lsn && !c!.lsn) throw new Error('no LSN');
      }
    }));
    const cpu = process.cpuUsage(start);
    return { cpuUs: (cpu.user + cpu.system) / calls, ms: (performance.now() - t0) / calls };
  };
  await run(false); await run(true); // warm-up
  const results: Record<string, number[]> = { without: [], with: [] };
  const wall: Record<string, number[]> = { without: [], with: [] };
  for (let r = 0; r < Number(o.rounds); r++) {
    for (const lsn of r % 2 ? [true, false] : [false, true]) {
      const x = await run(lsn);
      results[lsn ? 'with' : 'without'].push(x.cpuUs);
      wall[lsn ? 'with' : 'without'].push(x.ms);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const k of ['without', 'with']) console.log(`${k.padEnd(8)} Dbapi-Lsn: CPU ${median(results[k]).toFixed(1)} µs/tx (rounds: ${results[k].map((x) => x.toFixed(0)).join(' ')}), wall ${median(wall[k]).toFixed(3)} ms/tx`);
  await sql`drop table dbapi_lsn_cost`;
  await sql.end();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
