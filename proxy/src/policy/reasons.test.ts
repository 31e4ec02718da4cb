// policy/reasons.test.ts — keeps the reason catalog and the code in step: every code is used by
// some rule or by the engine, every rule has a success code, every sentence reads as one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { REASONS } from './reasons.js';
import { RULES } from './registry.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const sources = [
  ...readdirSync(here).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.case.ts') && f !== 'reasons.ts'),
  ...readdirSync(`${here}rules`).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => `rules/${f}`),
].map((f) => readFileSync(`${here}${f}`, 'utf8'));

test('every reason code is produced somewhere', () => {
  for (const code of Object.keys(REASONS)) {
    assert.ok(sources.some((s) => s.includes(`'${code}'`)), `${code} is in the catalog but no rule or engine code produces it`);
  }
});

test('every rule has a success code in the catalog', () => {
  for (const { name } of RULES) {
    const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const ok = name === 'not' ? 'not-matched' : `${kebab}-ok`;
    assert.ok(ok in REASONS, `${name} has no ${ok} reason`);
  }
});

test('every code is kebab-case and every explanation one plain sentence', () => {
  for (const [code, text] of Object.entries(REASONS)) {
    assert.match(code, /^[a-z]+(-[a-z]+)*$/);
    assert.match(text, /^[A-Z].*\.$/, code);
    assert.ok(text.length < 120, code);
  }
});
