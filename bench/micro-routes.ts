// bench/micro-routes.ts — the "10,000 routes vs 10 routes" row in process (bench/run.ts measures it end to end,
// for the target, with the same generated routes): two configurations with the same mix of hosts, wildcards,
// prefixes and policies, compiled once; then `table.match` + `decide` timed over the same kind of request set,
// the two tables interleaved round by round, the median of per-round ratios kept.
import { stringify } from 'yaml';
import { loadConfigText } from '../proxy/src/config/load.js';
import { formatIssue } from '../proxy/src/config/locate.js';
import { configSchema } from '../proxy/src/schema/config.js';
import { checkSemantics } from '../proxy/src/config/semantic.js';
import { decide } from '../proxy/src/policy/evaluate.js';
import type { Identity } from '../proxy/src/policy/input.js';
import { compileConfig, type CompiledConfig } from '../proxy/src/routes/compile.js';
import { isMain } from './child.js';
import { benchSession } from './fixtures.js';

/** The ten policy shapes every configuration cycles through (route i gets shape i % 10). */
const POLICIES: unknown[] = [
  { allow: [{ groups: ['engineering'] }] },
  { allow: [{ email: ['user1@example.com', 'ops@example.com'] }] },
  { allow: [{ domain: ['example.com'] }] },
  { allow: [{ claim: { department: ['R&D', 'Sales'] } }] },
  { allow: [{ groups: ['engineering'] }], deny: [{ not: { ip: ['127.0.0.0/8', '10.0.0.0/8'] } }] },
  { allow: [{ and: [{ groups: ['wiki-admins'] }, { mfa: true }] }] },
  { allow: [{ authenticated: true }] },
  { allow: [{ path: ['/team1', '/'] }] },
  'staff',
  { allow: [{ groups: ['sales', 'design'] }], deny: [{ method: ['DELETE'] }] },
];

/**
 * The same ten shapes, each allowing the bench session's user (bench/fixtures.ts: groups engineering and sales,
 * a verified example.com email, `amr` with otp), so that every request of the end-to-end rows is answered 2xx:
 * only shape 5 differs (`engineering` instead of `wiki-admins`, which that user is not in).
 */
export const ALLOWING_POLICIES: readonly unknown[] = POLICIES.map((p, i) => (i === 5 ? { allow: [{ and: [{ groups: ['engineering'] }, { mfa: true }] }] } : p));

/** One generated route: its `from` and how a request to it is addressed. */
interface GenRoute {
  from: string;
  /** The request hostname (wildcard routes get a varying label under their suffix). */
  host: (k: number) => string;
  prefix: string;
}

/** Route j of a host: `/` first, then `/teamJ` and `/teamJ-1/admin` under it (depth 1 and 2). */
function prefixOf(j: number): string {
  if (j === 0) return '';
  return j % 2 === 1 ? `/team${j}` : `/team${j - 1}/admin`;
}

/**
 * `n` routes with the same mix whatever `n`: one route in ten on a wildcard host (`*.wN.bench.test`), the rest
 * on exact hosts, about 20 routes per host (at least 2 exact hosts), prefixes `/`, `/teamJ`, `/teamJ/admin`.
 */
export function generateRoutes(n: number): GenRoute[] {
  const exactHosts = Math.max(2, Math.ceil((n * 0.9) / 20));
  const wildHosts = Math.max(1, Math.ceil((n * 0.1) / 20));
  const perHost = new Map<string, number>();
  const out: GenRoute[] = [];
  for (let i = 0; i < n; i++) {
    const wild = i % 10 === 9;
    const h = wild ? Math.floor(i / 10) % wildHosts : i % exactHosts;
    const from = wild ? `*.w${h}.bench.test` : `h${h}.bench.test`;
    const j = perHost.get(from) ?? 0;
    perHost.set(from, j + 1);
    out.push({ from: `http://${from}${prefixOf(j)}`, host: wild ? (k) => `x${k % 97}.w${h}.bench.test` : () => from, prefix: prefixOf(j) });
  }
  return out;
}

/** A configuration (as parsed YAML) with the routes of `generateRoutes(n)`, policies cycling through `policies`. */
export function routesConfig(n: number, options: { to?: string; policies?: readonly unknown[] } = {}): Record<string, unknown> {
  const policies = options.policies ?? POLICIES;
  return {
    listen: '127.0.0.1:0',
    publicUrl: 'http://auth.bench.test',
    idp: { issuer: 'http://127.0.0.1:9', clientId: 'drawbridge', clientSecret: 'x', allowInsecureHttp: true },
    session: { secret: 'bench-session-secret-0123456789abcdef0123456789' },
    policies: { staff: { allow: [{ domain: ['example.com'] }, { groups: ['staff'] }] } },
    routes: generateRoutes(n).map((r, i) => ({
      name: `r${i}`,
      from: r.from,
      to: options.to ?? 'http://127.0.0.1:8080',
      policy: policies[i % policies.length],
      ...(i % 7 === 3 ? { methods: ['GET', 'POST'] } : {}),
    })),
  };
}

export interface Req {
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

/**
 * `count` requests, each two segments below its route's prefix, 5% to unknown hosts; the others spread uniformly
 * over the first `distinct` routes (all of them by default).
 */
export function requestSet(n: number, count: number, distinct = n): Req[] {
  const routes = generateRoutes(n);
  const rand = prng(42);
  const out: Req[] = [];
  for (let k = 0; k < count; k++) {
    if (rand() < 0.05) {
      out.push({ hostname: `nohost${k}.bench.test`, path: '/x/y', method: 'GET' });
      continue;
    }
    const r = routes[Math.floor(rand() * Math.min(distinct, n))]!;
    out.push({ hostname: r.host(k), path: `${r.prefix}/page/${k % 13}`, method: 'GET' });
  }
  return out;
}

/**
 * `count` requests (the end-to-end rows), each two segments below its route's prefix: every route of
 * `generateRoutes(n)` equally often (`count` a multiple of `n`), in a shuffled order, no unknown host.
 */
export function routeRequests(n: number, count: number): Req[] {
  const routes = generateRoutes(n);
  const order = Array.from({ length: count }, (_, k) => k % n);
  const rand = prng(7);
  for (let k = count - 1; k > 0; k--) {
    const j = Math.floor(rand() * (k + 1));
    [order[k], order[j]] = [order[j]!, order[k]!];
  }
  return order.map((i, k) => {
    const r = routes[i]!;
    return { hostname: r.host(k), path: `${r.prefix}/page/${k % 13}`, method: 'GET' };
  });
}

/** Validates (schema and semantic checks, as loadConfigText does after YAML parsing) and compiles. */
function compile(n: number): { compiled: CompiledConfig; compileMs: number } {
  const t0 = performance.now();
  const parsed = configSchema.safeParse(routesConfig(n));
  if (!parsed.success) throw new Error(`routes-${n}: ${parsed.error.message.slice(0, 500)}`);
  const issues = checkSemantics(parsed.data);
  if (issues.length) throw new Error(`routes-${n}: ${issues.slice(0, 3).map((i) => i.message).join('; ')}`);
  const compiled = compileConfig(parsed.data);
  return { compiled, compileMs: performance.now() - t0 };
}

/** How long loadConfigText takes on the YAML of `n` routes (what `validate`, start and every reload pay). */
function yamlLoadMs(n: number): number | undefined {
  // Written out in full: shared policy objects would otherwise become YAML aliases.
  const text = stringify(routesConfig(n), { aliasDuplicateObjects: false });
  const t0 = performance.now();
  const loaded = loadConfigText(text, `routes-${n}.yaml`);
  const ms = performance.now() - t0;
  if (loaded.ok) return ms;
  process.stderr.write(`micro-routes: the ${n}-route YAML did not load: ${loaded.errors.slice(0, 3).map(formatIssue).join('; ')}\n`);
  return undefined;
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
  /** compileMs: validated (schema, semantic checks) and compiled from the parsed object; no YAML. */
  small: { routes: number; hosts: number; compileMs: number; nsPerRequest: number };
  /** yamlLoadMs: loadConfigText of the same configuration as YAML text (full runs only). */
  large: { routes: number; hosts: number; compileMs: number; yamlLoadMs?: number; nsPerRequest: number };
  /** The large table with requests to only as many distinct routes as the small one has (table size alone). */
  largeHot: { distinctRoutes: number; nsPerRequest: number };
  /** Median over rounds of (large ns / small ns), measured back to back (the target uses bench/run.ts's end-to-end routes rows). */
  ratio: number;
  /** Median over rounds of (largeHot ns / small ns). */
  hotRatio: number;
  rounds: Array<{ small: number; large: number; largeHot: number }>;
  requests: number;
}

/** Measures both tables; `quick` shortens every phase. */
export function measureRoutes(quick: boolean, sizes: [number, number] = [10, 10_000]): RoutesResult {
  const identity = benchSession(1, Date.now()).identity;
  const small = compile(sizes[0]);
  const large = compile(sizes[1]);
  const count = 1024;
  const cases = {
    small: { compiled: small.compiled, reqs: requestSet(sizes[0], count) },
    large: { compiled: large.compiled, reqs: requestSet(sizes[1], count) },
    largeHot: { compiled: large.compiled, reqs: requestSet(sizes[1], count, sizes[0]) },
  };
  const names = Object.keys(cases) as Array<keyof typeof cases>;
  const run = (name: keyof typeof cases, passes: number) => timeTable(cases[name].compiled, cases[name].reqs, identity, passes);
  collect();
  // Warm up (JIT) every case, then size `passes` so one measurement takes ~60 ms (15 ms quick).
  const warmUntil = performance.now() + (quick ? 100 : 600);
  while (performance.now() < warmUntil) for (const name of names) run(name, 3);
  const probe = run('small', 20);
  const passes = Math.max(3, Math.round(((quick ? 15 : 60) * 1e6) / (probe * count)));
  const rounds: RoutesResult['rounds'] = [];
  const n = quick ? 3 : 15;
  for (let i = 0; i < n; i++) {
    const round = { small: 0, large: 0, largeHot: 0 };
    // Rotate the order, so drift on a shared machine does not favour one case.
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length]!;
      collect();
      round[name] = run(name, passes);
    }
    rounds.push(round);
  }
  const yamlMs = quick ? undefined : yamlLoadMs(sizes[1]);
  const hostsOf = (c: CompiledConfig) => new Set(c.table.routes.map((r) => `${r.wildcard ? '*.' : ''}${r.hostname}`)).size;
  return {
    type: 'routes',
    small: { routes: sizes[0], hosts: hostsOf(small.compiled), compileMs: small.compileMs, nsPerRequest: median(rounds.map((r) => r.small)) },
    large: { routes: sizes[1], hosts: hostsOf(large.compiled), compileMs: large.compileMs, ...(yamlMs !== undefined ? { yamlLoadMs: yamlMs } : {}), nsPerRequest: median(rounds.map((r) => r.large)) },
    largeHot: { distinctRoutes: sizes[0], nsPerRequest: median(rounds.map((r) => r.largeHot)) },
    ratio: median(rounds.map((r) => r.large / r.small)),
    hotRatio: median(rounds.map((r) => r.largeHot / r.small)),
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
