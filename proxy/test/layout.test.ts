// proxy/test/layout.test.ts — the layout shows the architecture (STYLE.md "a folder never imports one above it"):
// every import between proxy/src folders points down the layer order below, pages/ (views only) never reaches the
// server, and only session/one-time.ts names a one-time record's key prefix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * proxy/src's folders from the bottom up; a file may import its own folder and any folder listed before it. The
 * top-level files are `errors`, `version` and `header-names` (the bottom) and `main` (the top, the bin entry).
 */
const LAYERS = [
  ['errors', 'version', 'header-names', 'digest'],
  ['url'],
  ['policy'],
  ['schema'],
  ['routes'],
  ['config'],
  ['telemetry'],
  ['tls'],
  ['session'],
  ['access'],
  ['oidc'],
  ['forward'],
  ['pages'],
  ['runtime'],
  ['signin'],
  ['admission'],
  ['server'],
  ['cli'],
  ['main'],
] as const;
/**
 * Upward imports not untangled yet (a new one fails the test, and removing one of these fails it too: delete the
 * entry then). None: url/ (request-target normalization and path prefixes) sits below policy/ and routes/, and the
 * configuration's schema (schema/config.ts) below routes/, which compiles what it validates.
 */
const KNOWN_UPWARD = new Set<string>([]);
const RANK = new Map<string, number>(LAYERS.flatMap((names, rank) => names.map((n) => [n, rank] as const)));

interface Edge {
  file: string;
  from: string;
  to: string;
  specifier: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The unit of a file under proxy/src: its top folder, or the file's name for a top-level file. */
function unitOf(path: string): string {
  const parts = relative(SRC, path).split(sep);
  return parts.length === 1 ? parts[0]!.replace(/(\.test|\.case)?\.ts$/, '') : parts[0]!;
}

/** Every relative import (static, `export … from`, side-effect and dynamic) of every file, as unit → unit edges. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(re)) {
      const target = resolve(dirname(file), m[1]!);
      if (!target.startsWith(SRC)) continue;
      const from = unitOf(file);
      const to = unitOf(target);
      if (from !== to) edges.push({ file: relative(SRC, file), from, to, specifier: m[1]! });
    }
  }
  return edges;
}

const isTest = (file: string) => /\.(test|case)\.ts$/.test(file);
const show = (e: Edge) => `${e.file} imports ${e.specifier} (${e.from} → ${e.to})`;

test('layout: the import parser sees every kind of import statement', () => {
  const edges = importEdges();
  assert.ok(edges.some((e) => e.file === join('server', 'server.ts') && e.to === 'signin'), 'server wires the sign-in flow');
  assert.ok(edges.some((e) => e.file === join('config', 'load.test.ts') && e.to === 'routes'), 'dynamic import()');
  assert.ok(edges.length > 150, `only ${edges.length} edges found`);
});

test('layout: every folder and top-level file has a layer', () => {
  const units = new Set(sourceFiles(SRC).map(unitOf));
  assert.deepEqual([...units].filter((u) => !RANK.has(u)), []);
});

// Unit tests beside the code (STYLE.md rule 7) may build their fixtures with any folder's loaders (a routes/ test
// compiles YAML through config/): the order holds for the code that ships.
test('layout: no source file imports a folder above its own (STYLE.md)', () => {
  const upward = importEdges().filter((e) => !isTest(e.file) && RANK.get(e.to)! > RANK.get(e.from)!).map(show);
  assert.deepEqual(upward.filter((e) => !KNOWN_UPWARD.has(e)), []);
  assert.deepEqual([...KNOWN_UPWARD].filter((e) => !upward.includes(e)), [], 'fixed: remove it from KNOWN_UPWARD');
});

test('layout: pages/ holds views only: nothing there (tests included) imports server/, runtime/ or signin/', () => {
  const bad = importEdges().filter((e) => e.from === 'pages' && ['server', 'runtime', 'signin'].includes(e.to));
  assert.deepEqual(bad.map(show), []);
});

test('layout: only session/one-time.ts names the one-time records\' key prefixes', () => {
  const prefix = /['"`](?:login|handoff|replaced|jti|switch):/;
  const bad = sourceFiles(SRC).filter((f) => relative(SRC, f) !== join('session', 'one-time.ts') && !f.endsWith('one-time.test.ts') && prefix.test(readFileSync(f, 'utf8')));
  assert.deepEqual(bad.map((f) => relative(SRC, f)), []);
});
