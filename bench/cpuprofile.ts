// bench/cpuprofile.ts — reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time and by
// inclusive time, optionally only within a time window (the load phase, not start-up).

/** The parts of the .cpuprofile format this reads. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  /** `name file:line`, the file relative to the repository (or node:… for node's own). */
  key: string;
  name: string;
  file: string;
  line: number;
  /** Microseconds. */
  selfUs: number;
  totalUs: number;
  selfPct: number;
  totalPct: number;
}

export interface ProfileSummary {
  /** Microseconds of samples counted. */
  sampledUs: number;
  samples: number;
  /** Every function, by self time. */
  functions: FunctionTime[];
  /** Self time by area: Drawbridge's own code, each dependency, node internals, GC, idle. */
  areas: Array<{ area: string; selfUs: number; selfPct: number }>;
}

function fileOf(url: string, root: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  return path.startsWith(root) ? path.slice(root.length).replace(/^\//, '') : path;
}

/** The area a function's self time is charged to. */
export function areaOf(name: string, file: string): string {
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(idle)') return 'idle (waiting for I/O)';
  if (name === '(program)' || (file === '' && name.startsWith('('))) return 'V8 / native (program)';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (dep) return `dependency: ${dep[1]}`;
  if (file.startsWith('proxy/src/')) return `drawbridge: ${file.split('/').slice(2, 3).join('/')}/`;
  if (file.startsWith('bench/')) return 'bench harness';
  if (file.startsWith('node:') || file === '') return 'node internals and native';
  return 'other';
}

/**
 * Summarizes a profile. `window` (µs, the profile's clock, which is the monotonic clock of
 * `process.hrtime`) keeps only the samples taken inside it.
 */
export function summarizeProfile(profile: CpuProfile, root: string, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = new Map<number, string>();
  const meta = new Map<string, { name: string; file: string; line: number }>();
  for (const n of profile.nodes) {
    const cf = n.callFrame;
    const file = fileOf(cf.url, root);
    const name = cf.functionName || '(anonymous)';
    const key = `${name} ${file}${file ? `:${cf.lineNumber + 1}` : ''}`;
    keyOf.set(n.id, key);
    if (!meta.has(key)) meta.set(key, { name, file, line: cf.lineNumber + 1 });
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let t = profile.startTime;
  let sampledUs = 0;
  let samples = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    // A sample's weight is the time until the next sample (the delta that follows it).
    const weight = profile.timeDeltas[i + 1] ?? delta;
    const id = profile.samples[i]!;
    samples++;
    sampledUs += weight;
    const key = keyOf.get(id)!;
    self.set(key, (self.get(key) ?? 0) + weight);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const k = keyOf.get(n)!;
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + weight);
    }
  }
  const pct = (us: number) => (sampledUs ? (100 * us) / sampledUs : 0);
  const functions = [...total.keys()]
    .map((key) => {
      const m = meta.get(key)!;
      const s = self.get(key) ?? 0;
      const tt = total.get(key) ?? 0;
      return { key, name: m.name, file: m.file, line: m.line, selfUs: s, totalUs: tt, selfPct: pct(s), totalPct: pct(tt) };
    })
    .sort((a, b) => b.selfUs - a.selfUs);
  const areas = new Map<string, number>();
  for (const f of functions) if (f.selfUs) areas.set(areaOf(f.name, f.file), (areas.get(areaOf(f.name, f.file)) ?? 0) + f.selfUs);
  return {
    sampledUs,
    samples,
    functions,
    areas: [...areas].map(([area, us]) => ({ area, selfUs: us, selfPct: pct(us) })).sort((a, b) => b.selfUs - a.selfUs),
  };
}
