// errors.test.ts — the problem catalog: every code is raised somewhere in the source (no dead codes), and every
// entry is well-formed (status, slug, title, headers).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from './errors.js';

const SRC = fileURLToPath(new URL('.', import.meta.url));

/** The source files of the product (no tests, no test cases, not the catalog itself). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !/\.(test|case)\.ts$/.test(e.name) && path !== join(SRC, 'errors.ts') ? [path] : [];
  });
}

test('every code of the catalog is raised (thrown or answered) somewhere in proxy/src', () => {
  const text = sources(SRC).map((f) => readFileSync(f, 'utf8')).join('\n');
  const unused = Object.keys(ERROR_CODES).filter((code) => !text.includes(`'${code}'`));
  assert.deepEqual(unused, [], 'codes nothing raises: raise them where they apply, or remove them');
});

test('every entry has an HTTP error status, a snake_case slug, a title and lower-case header names', () => {
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    assert.ok(spec.status >= 400 && spec.status < 600, code);
    assert.match(spec.slug, /^[a-z]+(_[a-z]+)*$/, code);
    assert.ok(spec.title.length > 0 && spec.meaning.length > 0, code);
    for (const name of Object.keys((spec as { headers?: object }).headers ?? {})) assert.equal(name, name.toLowerCase(), code);
  }
});
