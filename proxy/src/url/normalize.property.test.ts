// url/normalize.property.test.ts — fast-check properties of request-target normalization: idempotence, the
// shape of every accepted path, agreement with a slow reference model, and noisy spellings of a path collapsing to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeTarget } from './normalize.js';

const RUNS = { numRuns: 2000 };
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const someChar = (s: string, pred: (code: number) => boolean): boolean => {
  for (let i = 0; i < s.length; i++) if (pred(s.charCodeAt(i))) return true;
  return false;
};
const isControl = (c: number): boolean => c < 0x20 || c === 0x7f;

// Pieces that mix the characters bypasses are made of: dots, escapes of dots/slashes/semicolons, separators.
const TRICKY = fc.constantFrom(
  '.', '..', '%', '2', 'e', 'E', 'f', 'F', 'c', 'C', '5', '3', 'b', 'B', '0', '1', '/', '//', '\\', ';', '#', '?',
  'a', 'd', 'm', 'i', 'n', 'x', '~', '-', '_', '|', ' ', '\u0000', '\u007f', '\u00e9',
  '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '%3b', '%3B', '%61', '%41', '%23', '%25', '%c3%a9', '%C0', '%00', '%zz',
);
const trickyTarget = fc.oneof(
  { weight: 9, arbitrary: fc.array(TRICKY, { maxLength: 24 }).map((parts) => '/' + parts.join('')) },
  { weight: 1, arbitrary: fc.array(TRICKY, { maxLength: 12 }).map((parts) => parts.join('')) },
);

test('normalization is idempotent', () => {
  fc.assert(
    fc.property(trickyTarget, (target) => {
      const first = normalizeTarget(target);
      if (!first.ok) return;
      assert.deepEqual(normalizeTarget(first.path), { ok: true, path: first.path, query: '' });
      const again = normalizeTarget(first.query === '' ? first.path : `${first.path}?${first.query}`);
      assert.deepEqual(again, first);
    }),
    RUNS,
  );
});

test('an accepted path has the canonical shape', () => {
  fc.assert(
    fc.property(trickyTarget, (target) => {
      const r = normalizeTarget(target);
      if (!r.ok) return;
      const p = r.path;
      assert.ok(p.startsWith('/'), p);
      for (const bad of ['//', '/./', '/../', '%2F', '%2f', '%5C', '%5c', '\\', ';', '?', '#', ' ']) assert.ok(!p.includes(bad), `${p} contains ${bad}`);
      assert.ok(!p.endsWith('/..') && !p.endsWith('/.'), p);
      assert.ok(!someChar(p, (c) => isControl(c) || c > 0x7e), `${JSON.stringify(p)} has a control or non-ASCII character`);
      assert.ok(!/%(?![0-9A-F]{2})/.test(p), `${p} has a bad or lower-case escape`);
      assert.ok(!/%(?:[01][0-9A-F]|7F|C0|C1)/.test(p), `${p} has an escaped control`);
      assert.ok(!/(?:^|\/)\.\.?%3B/.test(p), `${p} has a "..;" form`);
      assert.ok(!someChar(r.query, (c) => c <= 0x20 || c > 0x7e), `${JSON.stringify(r.query)} has a control, space or non-ASCII`);
    }),
    RUNS,
  );
});

test('no unreserved escape is left in an accepted path', () => {
  fc.assert(
    fc.property(trickyTarget, (target) => {
      const r = normalizeTarget(target);
      if (!r.ok) return;
      const decoded = r.path.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
        const ch = String.fromCharCode(parseInt(hex, 16));
        return UNRESERVED.test(ch) ? ch : m;
      });
      assert.equal(decoded, r.path);
    }),
    RUNS,
  );
});

// A deliberately slow, differently-shaped reading of the same rules (split, regex, array), to catch the fast
// scanner and the slow path disagreeing with each other or with the rules.
function reference(target: string): { path: string; query: string } | undefined {
  if (!target.startsWith('/')) return undefined;
  if (someChar(target, isControl)) return undefined;
  const hash = target.indexOf('#');
  const beforeHash = hash < 0 ? target : target.slice(0, hash);
  const q = beforeHash.indexOf('?');
  const rawPath = q < 0 ? beforeHash : beforeHash.slice(0, q);
  const query = q < 0 ? '' : beforeHash.slice(q + 1);
  if (/[^\u0021-\u007e]/.test(query) || /%(?![0-9A-Fa-f]{2})/.test(query) || /%(?:[01][0-9A-Fa-f]|7[Ff])/.test(query)) return undefined;
  if (/[^\u0021-\u007e]|[;\\]/.test(rawPath) || /%(?![0-9A-Fa-f]{2})/.test(rawPath)) return undefined;
  let refused = false;
  const segments = rawPath
    .split('/')
    .slice(1)
    .map((seg) =>
      seg.replace(/%([0-9A-Fa-f]{2})|(["<>[\]^`{|}])/g, (_m, hex: string | undefined, raw: string | undefined) => {
        const code = hex === undefined ? raw!.charCodeAt(0) : parseInt(hex, 16);
        if (hex !== undefined && (code < 0x20 || code === 0x7f || code === 0x2f || code === 0x5c || code === 0xc0 || code === 0xc1)) refused = true;
        const ch = String.fromCharCode(code);
        return hex !== undefined && UNRESERVED.test(ch) ? ch : '%' + code.toString(16).toUpperCase().padStart(2, '0');
      }),
    );
  if (refused) return undefined;
  const out: string[] = [];
  let trailing = false;
  for (const seg of segments) {
    trailing = seg === '' || seg === '.' || seg === '..';
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else if (/^\.\.?%3B/.test(seg)) {
      return undefined;
    } else if (!trailing) {
      out.push(seg);
    }
  }
  return { path: out.length === 0 ? '/' : '/' + out.join('/') + (trailing ? '/' : ''), query };
}

test('agrees with the reference model on accept/refuse and on the result', () => {
  fc.assert(
    fc.property(trickyTarget, (target) => {
      const got = normalizeTarget(target);
      const want = reference(target);
      if (want === undefined) assert.equal(got.ok, false, `${JSON.stringify(target)} accepted as ${JSON.stringify(got)}`);
      else assert.deepEqual(got, { ok: true, ...want }, JSON.stringify(target));
    }),
    RUNS,
  );
});

// Segment tokens: single characters (unreserved ones may be re-spelled as escapes) and canonical escapes.
const TOKEN = fc.constantFrom('a', 'b', 'Z', '0', '9', '-', '_', '~', '.', '!', '@', ':', '=', '%20', '%3B', '%C3%A9', '%25');
const NOISE = fc.constantFrom('', '', './', '/', '//', 'x/../', 'x/y/../../', '%2e/', 'q/%2E%2e/', './/./');
const segmentArb = fc
  .record({ tokens: fc.array(TOKEN, { minLength: 1, maxLength: 5 }), noise: NOISE, encode: fc.boolean(), upper: fc.boolean() })
  .filter(({ tokens }) => {
    const s = tokens.join('');
    return s !== '.' && s !== '..' && !/^\.\.?%3B/.test(s);
  });

function respell(tokens: string[], encode: boolean, upper: boolean): string {
  if (!encode) return tokens.join('');
  return tokens
    .map((t) => {
      if (!UNRESERVED.test(t)) return t;
      const hex = t.charCodeAt(0).toString(16);
      return '%' + (upper ? hex.toUpperCase() : hex.toLowerCase());
    })
    .join('');
}

test('redundant "./", "x/../", "//" and escaped unreserved characters collapse to the clean join', () => {
  fc.assert(
    fc.property(
      fc.array(segmentArb, { maxLength: 6 }),
      fc.boolean(),
      fc.constantFrom('', '.', '/', 'x/..', './'),
      fc.option(fc.array(fc.constantFrom('a', '=', '&', '%2F', '%2e', '/', '..', ';', '\\', '?', '%3b'), { maxLength: 8 })),
      (segments, trailing, trailingNoise, queryParts) => {
        const clean = segments.length === 0 ? '/' : '/' + segments.map((s) => s.tokens.join('')).join('/') + (trailing ? '/' : '');
        let noisy = '/' + segments.map((s) => s.noise + respell(s.tokens, s.encode, s.upper)).join('/');
        if (trailing) noisy += '/' + trailingNoise;
        const query = queryParts === null ? undefined : queryParts.join('');
        const got = normalizeTarget(query === undefined ? noisy : `${noisy}?${query}`);
        assert.deepEqual(got, { ok: true, path: clean, query: query ?? '' }, noisy);
      },
    ),
    RUNS,
  );
});
