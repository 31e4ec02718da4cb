// bench/micro-routes.ts — the "10,000 routes vs 10 routes" row, in-process: two configurations with the same
// mix of hosts, wildcards, prefixes and policies, compiled once; then `table.match` + `decide` timed over the
// same kind of request set, the two tables interleaved round by round, the median of per-round ratios kept.
import { loadConfigText } from '../proxy/src/config/load.js';
import { formatIssue } from '../proxy/src/config/locate.js';
import { decide } from '../proxy/src/policy/evaluate.js';
import type { Identity } from '../proxy/src/policy/input.js';
import { compileConfig, type CompiledConfig } from '../proxy/src/routes/compile.js';
import { isMain } from './child.js';
import { benchSession } from './fixtures.js';

/** The ten policy shapes every configuration cycles through (route i gets shape i % 10). */
const POLICIES = [
  '{ allow: [ { groups: [engineering] } ] }',
  '{ allow: [ { email: [user1@example.com, ops@example.com] } ] }',
  '{ allow: [ { domain: [example.com] } ] }',
  '{ allow: [ { claim: { department: [R&D, Sales] } } ] }',
  '{ allow: [ { groups: [engineering] } ], deny: [ { not: { ip: [127.0.0.0/8, 10.0.0.0/8] } } ] }',
  '{ allow: [ { and: [ { groups: [wiki-admins] }, { mfa: true } ] } ] }',
  '{ allow: [ { authenticated: true } ] }',
  '{ allow: [ { path: [/team1, /] } ] }',
  'staff',
  '{ allow: [ { groups: [sales, design] } ], deny: [ { method: [DELETE] } ] }',
];

function hostOf(h: number): { from: string; request: (r: number) => string } {
  // One host in ten is a wildcard: `*.wN.bench.test`, requested as `xR.wN.bench.test`.
  if (h % 10 === 9) return { from: `*.w${h}.bench.test`, request: (r) => `x${r % 97}.w${h}.bench.test` };
  return { from: `h${h}.bench.test`, request: () => `h${h}.bench.test` };
}

/** Route j of a host: `/` first, then `/teamJ` and `/teamJ-1/admin` under it (depth 1 and 2). */
function prefixOf(j: number): string {
  if (j === 0) return '';
  return j % 2 === 1 ? `/team${j}` : `/team${j - 1}/admin`;
}

interface Layout {
  hosts: number;
  routes: number;
}

function layout(n: number): Layout {
  return { routes: n, hosts: Math.max(2, Math.ceil(n / 20)) };
}

/** The YAML of a configuration with `n` routes spread over hosts (20 routes per host, at least 2 hosts). */
export function routesConfigText(n: number): string {
  const { hosts } = layout(n);
  const lines = [
    'listen: "127.0.0.1:0"',
    'publicUrl: http://auth.bench.test',
    'idp: { issuer: "http://127.0.0.1:9", clientId: drawbridge, clientSecret: x, allowInsecureHttp: true }',
    'session: { secret: bench-session-secret-0123456789abcdef0123456789 }',
    'policies:',
    '  staff: { allow: [ { domain: [example.com] }, { groups: [staff] } ] }',
    'routes:',
  ];
  for (let i = 0; i < n; i++) {
    const host = hostOf(i % hosts);
    const j = Math.floor(i / hosts);
    lines.push(`  - name: r${i}`, `    from: http://${host.from}${prefixOf(j)}`, '    to: http://127.0.0.1:8080', `    policy: ${POLICIES[i % POLICIES.length]}`);
    if (i % 7 === 3) lines.push('    methods: [GET, POST]');
  }
  return `${lines.join('\n')}\n`;
}

interface Req {
  hostname: string;
  path: string;
  method: string;
}

/** A deterministic PRNG (mulberry32), so both tables get the same kind of requests run after run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` requests spread uniformly over the routes (each two segments below its prefix); 5% to unknown hosts. */
export function requestSet(n: number, count: number): Req[] {
  const { hosts } = layout(n);
  const rand = prng(42);
  const out: Req[] = [];
  for (let k = 0; k < count; k++) {
    if (rand() < 0.05) {
      out.push({ hostname: `nohost${k}.bench.test`, path: '/x/y', method: 'GET' });
      continue;
    }
    const i = Math.floor(rand() * n);
    const host = hostOf(i % hosts);
    out.push({ hostname: host.request(k), path: `${prefixOf(Math.floor(i / hosts)) || ''}/page/${k % 13}`, method: 'GET' });
  }
  return out;
}

function compile(n: number): { compiled: CompiledConfig; ms: number } {
  const t0 = performance.now();
  const loaded = loadConfigText(routesConfigText(n), `routes-${n}.yaml`);
  if (!loaded.ok) throw new Error(loaded.errors.slice(0, 5).map(formatIssue).join('\n'));
  const compiled = compileConfig(loaded.config);
  return { compiled, ms: performance.now() - t0 };
}

let sink = 0;

/** A full collection when node runs with --expose-gc: leftover garbage from compiling must not be collected inside a timed window. */
function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Runs `passes` passes of match + decide over `reqs`; returns ns per request. */
function timeTable(compiled: CompiledConfig, reqs: Req[], identity: Identity, passes: number): number {
  const table = compiled.table;
  const now = Date.now();
  const t0 = performance.now();
  for (let p = 0; p < passes; p++) {
    for (let k = 0; k < reqs.length; k++) {
      const r = reqs[k]!;
      const route = table.match(r.hostname, 8080, r.path, r.method);
      if ('status' in route) {
        sink += route.status;
        continue;
      }
      sink += decide(route, { identity, method: r.method, path: r.path, ip: '127.0.0.1', now }).reasons.length;
    }
  }
  return ((performance.now() - t0) * 1e6) / (passes * reqs.length);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface RoutesResult {
  type: 'routes';
  small: { routes: number; hosts: number; compileMs: number; nsPerRequest: number };
  large: { routes: number; hosts: number; compileMs: number; nsPerRequest: number };
  /** Median over rounds of (large ns / small ns) measured back to back. */
  ratio: number;
  rounds: Array<{ small: number; large: number }>;
  requests: number;
}

/** Measures both tables; `quick` shortens every phase. */
export function measureRoutes(quick: boolean, sizes: [number, number] = [10, 10_000]): RoutesResult {
  const identity = benchSession(1, Date.now()).identity;
  const small = compile(sizes[0]);
  const large = compile(sizes[1]);
  const count = 1024;
  const smallReqs = requestSet(sizes[0], count);
  const largeReqs = requestSet(sizes[1], count);
  collect();
  // Warm up (JIT) both, then size `passes` so a measurement takes ~100 ms (20 ms quick).
  const warmUntil = performance.now() + (quick ? 100 : 500);
  while (performance.now() < warmUntil) {
    timeTable(small.compiled, smallReqs, identity, 5);
    timeTable(large.compiled, largeReqs, identity, 5);
  }
  const probe = timeTable(small.compiled, smallReqs, identity, 20);
  const passes = Math.max(5, Math.round(((quick ? 20 : 100) * 1e6) / (probe * count)));
  const rounds: Array<{ small: number; large: number }> = [];
  const n = quick ? 3 : 15;
  for (let i = 0; i < n; i++) {
    collect();
    // Alternate which goes first, so drift on a shared machine does not favour one table.
    if (i % 2 === 0) {
      const s = timeTable(small.compiled, smallReqs, identity, passes);
      rounds.push({ small: s, large: timeTable(large.compiled, largeReqs, identity, passes) });
    } else {
      const l = timeTable(large.compiled, largeReqs, identity, passes);
      rounds.push({ small: timeTable(small.compiled, smallReqs, identity, passes), large: l });
    }
  }
  const hostsOf = (c: CompiledConfig) => new Set(c.table.routes.map((r) => `${r.wildcard ? '*.' : ''}${r.hostname}`)).size;
  return {
    type: 'routes',
    small: { routes: sizes[0], hosts: hostsOf(small.compiled), compileMs: small.ms, nsPerRequest: median(rounds.map((r) => r.small)) },
    large: { routes: sizes[1], hosts: hostsOf(large.compiled), compileMs: large.ms, nsPerRequest: median(rounds.map((r) => r.large)) },
    ratio: median(rounds.map((r) => r.large / r.small)),
    rounds,
    requests: count,
  };
}

if (isMain(import.meta.url)) {
  const result = measureRoutes(process.argv.includes('--quick'));
  if (sink === 0.5) console.log(sink);
  if (process.send) process.send({ type: 'ready', result });
  else console.log(JSON.stringify(result, null, 2));
}
