// routes/reachability.ts — the routes no request can ever reach (`validate` and reload refuse them): RouteTable.match's
// host entries, port inheritance and order (prefix routes, then regex routes in file order) modelled on the routes.
import { normalizeTarget } from '../url/normalize.js';

/** What the analysis needs of a route: its parsed `from`, its regex source, its methods. */
export interface RouteShape {
  index: number;
  name: string;
  hostname: string;
  wildcard: boolean;
  port?: number;
  /** The normalized prefix of `from` (ignored for a regex route, as RouteTable ignores it). */
  prefix: string;
  /** The regex source of a regex route; it must compile. */
  regex?: string;
  methods?: readonly string[];
}

export interface UnreachableRoute {
  index: number;
  /** Why, naming the route(s) that take its requests. */
  message: string;
}

/**
 * What the source of a regex guarantees about the paths it matches, read from its leading literal characters. Sound,
 * not complete: whatever it cannot read (alternation, classes, lookarounds) it leaves unknown.
 */
export interface RegexShape {
  /** Every string the regex matches starts with this ('' when nothing is known). */
  lead: string;
  /** The regex matches every string that starts with `lead` (`^/a`, `^/a.*`, `.*`, ``). */
  allAfterLead: boolean;
  /** The one string the regex matches (`^/a/b$`). */
  only?: string;
}

// Characters with a meaning in a regex outside a class; every other character is a literal atom.
const SYNTAX = '^$\\.*+?()[]{}|';
const QUANTIFIERS = '*+?{';
// After "\", ASCII punctuation is the character itself (an identity escape); a letter or digit is a class, an
// assertion, a back-reference or a code (`\d`, `\b`, `\1`, `\x41`), which the reading stops at.
const IDENTITY_ESCAPE = /^[!-/:-@[-`{-~]$/;

/** Reads the shape of a regex source (compiled without flags, as routes are: `^` and `$` are the input's ends). */
export function regexShape(source: string): RegexShape {
  if (hasTopLevelAlternation(source)) return { lead: '', allAfterLead: false };
  const anchored = source.startsWith('^');
  let i = anchored ? 1 : 0;
  let lead = '';
  while (i < source.length) {
    const c = source[i]!;
    let ch: string | undefined;
    let width = 1;
    if (c === '\\') {
      const n = source[i + 1];
      if (n !== undefined && IDENTITY_ESCAPE.test(n)) [ch, width] = [n, 2];
    } else if (!SYNTAX.includes(c)) {
      ch = c;
    }
    // A quantified atom may occur zero times: the lead ends before it.
    const next = source[i + width];
    if (ch === undefined || (next !== undefined && QUANTIFIERS.includes(next))) break;
    lead += ch;
    i += width;
  }
  const rest = source.slice(i);
  const anything = rest === '' || rest === '.*' || rest === '.*$';
  // `.` matches every character but line terminators, which no normalized path holds (control characters are 400).
  if (anchored) return rest === '$' ? { lead, allAfterLead: false, only: lead } : { lead, allAfterLead: anything };
  // Unanchored, only an empty lead (or "/", which every path holds) says something.
  return { lead: '', allAfterLead: (lead === '' && (anything || rest === '$')) || (lead === '/' && anything) };
}

function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return true;
  }
  return false;
}

/**
 * Undefined when some normalized request path (SPEC §3) starts with `lead`; otherwise why none does. An escape cut
 * short at the end (`%C`) is left out, since the path may complete it; a plain character appended keeps a last
 * `.` or `..` from reading as a dot segment.
 */
function leadProblem(lead: string): string | undefined {
  const head = lead.replace(/%[0-9A-Fa-f]?$/, '');
  if (head === '') return undefined;
  const probe = normalizeTarget(head + 'z');
  if (probe.ok && probe.query === '' && probe.path === head + 'z') return undefined;
  return spelling(head);
}

/** Why no request path is `path`, or undefined when it is a normalized path. */
function pathProblem(path: string): string | undefined {
  const n = normalizeTarget(path);
  return n.ok && n.query === '' && n.path === path ? undefined : spelling(path);
}

function spelling(path: string): string {
  const n = normalizeTarget(path);
  if (!n.ok) return `a request for "${path}" is refused (${n.reason})`;
  return `requests are normalized before matching, and "${path}" is matched as "${n.path}"`;
}

type ShadowKind = 'root' | 'prefix' | 'only-prefix' | 'regex' | 'only-regex';

interface Shadow {
  kind: ShadowKind;
  by: RouteShape;
}

/** One host entry of the table: a host (`a.test`, `*.test`) with or without a port, and the routes it tries. */
interface Entry {
  label: string;
  base: string;
  port?: number;
  prefixes: Map<string, RouteShape>;
  regexes: RouteShape[];
}

/**
 * Every regex route that no request reaches, whatever its host, port or place in the file; each with the route(s)
 * that take its requests. A prefix route is always reached (at its own prefix on its own host; two routes with one
 * host and prefix are a separate error), and an exact host never hides a wildcard one (another label reaches it).
 * A regex route is unreachable when, on every host entry it is tried on (its own, and for a route without a port
 * every port-specific entry of its host, which inherits it), a `/` route takes every path; or a prefix route takes
 * every path its leading literal allows (`^/admin/…` beside `/admin`); or an earlier regex route matches all it
 * matches (the same source, or `^/a.*` before `^/a/b`); or when no normalized path could match it (`^/a//b`).
 * Methods never rescue a route: a method the chosen route does not accept is 405, never the next route.
 */
export function findUnreachable(routes: readonly RouteShape[]): UnreachableRoute[] {
  const entries = new Map<string, Entry>();
  for (const r of routes) {
    const base = `${r.wildcard ? '*.' : ''}${r.hostname}`;
    const key = r.port === undefined ? base : `${base}:${r.port}`;
    let e = entries.get(key);
    if (!e) entries.set(key, (e = { label: key, base, ...(r.port !== undefined ? { port: r.port } : {}), prefixes: new Map(), regexes: [] }));
    if (r.regex !== undefined) e.regexes.push(r);
    else e.prefixes.set(r.prefix, r);
  }
  // As RouteTable: a port-specific entry inherits the port-less routes of its host (its own prefixes win).
  for (const e of entries.values()) {
    const any = e.port === undefined ? undefined : entries.get(e.base);
    if (!any) continue;
    for (const [prefix, r] of any.prefixes) if (!e.prefixes.has(prefix)) e.prefixes.set(prefix, r);
    e.regexes.push(...any.regexes);
    e.regexes.sort((a, b) => a.index - b.index);
  }

  const byBase = new Map<string, Entry[]>();
  for (const e of entries.values()) {
    const list = byBase.get(e.base);
    if (list) list.push(e);
    else byBase.set(e.base, [e]);
  }

  const shapes = new Map<RouteShape, RegexShape>();
  const regexes = new Map<RouteShape, RegExp>();
  const bySource = new Map<Entry, Map<string, RouteShape>>();
  const wides = new Map<Entry, RouteShape[]>();
  const ctx: Context = {
    shapeOf(q) {
      let s = shapes.get(q);
      if (!s) shapes.set(q, (s = regexShape(q.regex!)));
      return s;
    },
    regexOf(q) {
      let re = regexes.get(q);
      if (!re) regexes.set(q, (re = new RegExp(q.regex!)));
      return re;
    },
    firstWithSource(entry, source) {
      let first = bySource.get(entry);
      if (!first) {
        bySource.set(entry, (first = new Map()));
        for (const q of entry.regexes) if (!first.has(q.regex!)) first.set(q.regex!, q);
      }
      return first.get(source)!;
    },
    wideRegexes(entry) {
      let wide = wides.get(entry);
      if (!wide) wides.set(entry, (wide = entry.regexes.filter((q) => ctx.shapeOf(q).allAfterLead)));
      return wide;
    },
  };
  const out: UnreachableRoute[] = [];
  for (const r of routes) {
    if (r.regex === undefined) continue;
    const shape = ctx.shapeOf(r);
    const impossible = shape.only !== undefined ? pathProblem(shape.only) : leadProblem(shape.lead);
    if (impossible) {
      const what = shape.only !== undefined ? `the one path it matches is "${shape.only}"` : `every path it matches starts with "${shape.lead}"`;
      out.push({ index: r.index, message: `this regex route can never match: ${what}; ${impossible}` });
      continue;
    }
    const base = `${r.wildcard ? '*.' : ''}${r.hostname}`;
    const tried = r.port === undefined ? byBase.get(base)! : [entries.get(`${base}:${r.port}`)!];
    const shadows: Array<{ entry: Entry; shadow: Shadow }> = [];
    for (const entry of tried) {
      const shadow = shadowIn(entry, r, shape, ctx);
      if (!shadow) break;
      shadows.push({ entry, shadow });
    }
    if (shadows.length === tried.length) out.push({ index: r.index, message: describe(shape, shadows) });
  }
  return out;
}

interface Context {
  shapeOf(q: RouteShape): RegexShape;
  regexOf(q: RouteShape): RegExp;
  /** The first regex route of the entry (file order) with this source. */
  firstWithSource(entry: Entry, source: string): RouteShape;
  /** The regex routes of the entry that match every string starting with their lead, in file order. */
  wideRegexes(entry: Entry): RouteShape[];
}

/** The route of the longest segment-aware prefix of `path` on the entry, as the route table's lookup finds it (routes/host-index.ts). */
function longestPrefix(entry: Entry, path: string): RouteShape | undefined {
  const end = path.length > 1 && path.endsWith('/') ? path.length - 1 : path.length;
  let best = entry.prefixes.get('/');
  for (let j = 1; j <= end; j++) if (j === end || path[j] === '/') best = entry.prefixes.get(path.slice(0, j)) ?? best;
  return best;
}

/** What takes every request `r` could match on this entry, or undefined when some request reaches `r` there. */
function shadowIn(entry: Entry, r: RouteShape, shape: RegexShape, ctx: Context): Shadow | undefined {
  if (shape.only !== undefined) {
    // One concrete path: run it through the entry as match() does.
    const prefixRoute = longestPrefix(entry, shape.only);
    if (prefixRoute) return { kind: 'only-prefix', by: prefixRoute };
    const only = shape.only;
    const first = entry.regexes.find((q) => only.startsWith(ctx.shapeOf(q).lead) && ctx.regexOf(q).test(only));
    return first && first !== r ? { kind: 'only-regex', by: first } : undefined;
  }
  const root = entry.prefixes.get('/');
  if (root) return { kind: 'root', by: root };
  // A prefix P holds every path starting with the lead when the lead starts with P + "/"; the longest such P.
  let cover: RouteShape | undefined;
  for (let j = 1; j < shape.lead.length; j++) if (shape.lead[j] === '/') cover = entry.prefixes.get(shape.lead.slice(0, j)) ?? cover;
  if (cover) return { kind: 'prefix', by: cover };
  const same = ctx.firstWithSource(entry, r.regex!);
  if (same !== r) return { kind: 'regex', by: same };
  for (const q of ctx.wideRegexes(entry)) {
    if (q.index >= r.index) break;
    if (shape.lead.startsWith(ctx.shapeOf(q).lead)) return { kind: 'regex', by: q };
  }
  return undefined;
}

function describe(shape: RegexShape, shadows: Array<{ entry: Entry; shadow: Shadow }>): string {
  // One clause per (kind, winning route), naming every host entry it applies to.
  const groups = new Map<string, { shadow: Shadow; hosts: string[] }>();
  for (const { entry, shadow } of shadows) {
    const key = `${shadow.kind} ${shadow.by.index}`;
    const g = groups.get(key);
    if (g) g.hosts.push(entry.label);
    else groups.set(key, { shadow, hosts: [entry.label] });
  }
  const ref = (q: RouteShape) => `routes[${q.index}] "${q.name}"`;
  const parts = [...groups.values()].map(({ shadow: { kind, by }, hosts }) => {
    const on = hosts.join(', ');
    switch (kind) {
      case 'root':
        return `${ref(by)} serves every path of ${on}`;
      case 'prefix':
        return `every path it matches starts with "${shape.lead}", which ${ref(by)} serves (prefix ${by.prefix}) on ${on}`;
      case 'only-prefix':
        return `the one path it matches, "${shape.only}", is served by ${ref(by)} (prefix ${by.prefix}) on ${on}`;
      case 'only-regex':
        return `the one path it matches, "${shape.only}", is matched first by ${ref(by)} on ${on}`;
      case 'regex':
        return `${ref(by)} comes earlier in the file and matches every path this one matches on ${on}`;
    }
  });
  const kinds = new Set(shadows.map((s) => s.shadow.kind));
  const notes: string[] = [];
  if (kinds.has('root') || kinds.has('prefix') || kinds.has('only-prefix')) notes.push('prefix routes are tried before regex routes');
  if (kinds.has('regex') || kinds.has('only-regex')) notes.push('regex routes are tried in file order');
  if (shadows.some((s) => s.entry.port !== undefined && s.shadow.by.port === undefined)) notes.push('a route without a port serves its host on every port');
  if (shadows.some((s) => s.shadow.by.methods !== undefined)) notes.push('a method the chosen route does not accept gets 405, never the next route');
  return `this regex route can never match: ${parts.join('; ')} (${notes.join('; ')})`;
}
