// Summarizes a `node --cpu-prof` profile: busy self time by package (or project folder) and the heaviest functions.
// Usage: npx tsx bench/summarizeProfile.ts bench/profiles/gateway/CPU.*.cpuprofile [--top 25] [--requests N]
// With --requests (what `npm run bench -- --cpu-prof` prints for each server), each line also says µs per request,
// so two servers' profiles compare line by line.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' }, requests: { type: 'string' } }, allowPositionals: true });

/** `koa`, `@koa/router`, `lib/auth/callerFinder.ts`, `node:internal/...`: where a function lives, coarse enough to add up. */
function owner(url: string): string {
  if (!url) return '(native/gc/idle)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const m = /\/(src|lib|modules|bench)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
}

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    if (byId.get(id)!.callFrame.functionName === '(idle)') return; // percentages are of busy time
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    add(owners, owner(url), t);
    add(functions, `${functionName || '(anonymous)'} ${owner(url)}:${lineNumber + 1}`, t);
  }
  const print = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
      const perRequest = values.requests ? `${(t / Number(values.requests)).toFixed(1).padStart(7)} µs/req  ` : '';
      console.log(`  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${perRequest}${k}`);
    }
  };
  const busyPerRequest = values.requests ? `, ${(total / Number(values.requests)).toFixed(0)} µs per request` : '';
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s busy (idle excluded)${busyPerRequest}`);
  print('self time by owner', owners);
  print('self time by function', functions);
}
