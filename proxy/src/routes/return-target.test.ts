// routes/return-target.test.ts — `rd` return targets: relative paths and configured origins only;
// every open-redirect payload of shared/testdata falls back to publicUrl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfigText } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { compileConfig } from './compile.js';
import { safeReturnTarget } from './return-target.js';

const HOSTS = ['foo.bar', 'port.bar:8080', 'anyport.bar', 'www.whitelisteddomain.tld', 'app.example.com'];
const text = `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
${HOSTS.map((h, i) => `  - { name: r${i}, from: "https://${h}", to: "http://10.0.0.1", public: true }`).join('\n')}
  - { name: wild, from: "https://*.wildcard.bar", to: "http://10.0.0.1", public: true, wildcardHandoff: true }
  - { name: wild2, from: "https://*.nohandoff.bar", to: "http://10.0.0.1", public: true }
`;
function compileText(yaml: string) {
  const loaded = loadConfigText(yaml, 't.yaml');
  if (!loaded.ok) throw new Error(loaded.errors.map(formatIssue).join('\n'));
  return compileConfig(loaded.config);
}
const compiled = compileText(text);
const ALLOWED = new Set(['https://auth.example.com', ...HOSTS.map((h) => `https://${h}`)]);

function allowedOrigin(url: string): boolean {
  const origin = new URL(url).origin;
  return ALLOWED.has(origin) || /^https:\/\/[a-z0-9-]+\.wildcard\.bar$/.test(origin);
}

test('relative paths and configured origins are kept', () => {
  assert.equal(safeReturnTarget('/wiki/page?x=1#top', compiled), 'https://auth.example.com/wiki/page?x=1#top');
  assert.equal(safeReturnTarget('https://app.example.com/deep?q=1', compiled), 'https://app.example.com/deep?q=1');
  assert.equal(safeReturnTarget('https://port.bar:8080/x', compiled), 'https://port.bar:8080/x');
  assert.equal(safeReturnTarget('https://t1.wildcard.bar/x', compiled), 'https://t1.wildcard.bar/x');
  assert.equal(safeReturnTarget('/x', compiled, 'https://app.example.com'), 'https://app.example.com/x');
  // A port-less `from` is served on the scheme's default port and on Drawbridge's own (listen ":8080").
  assert.equal(safeReturnTarget('https://anyport.bar:8080/x', compiled), 'https://anyport.bar:8080/x');
});

test('only origins served exactly: another port of a port-less route, a wildcard without wildcardHandoff', () => {
  const fallback = 'https://auth.example.com/';
  for (const rd of [
    'https://anyport.bar:39098/',
    'https://foo.bar:8443/',
    'https://port.bar/',
    'https://t1.nohandoff.bar/x',
    'https://dangling.nohandoff.bar/',
  ]) {
    assert.equal(safeReturnTarget(rd, compiled), fallback, rd);
  }
  // publicUrl's explicit port is Drawbridge's own too.
  const behind = compileText(text.replace('publicUrl: https://auth.example.com', 'publicUrl: https://auth.example.com:9443\nlisten: "127.0.0.1:7000"'));
  assert.equal(safeReturnTarget('https://foo.bar:9443/', behind), 'https://foo.bar:9443/');
  assert.equal(safeReturnTarget('https://foo.bar:7000/', behind), 'https://foo.bar:7000/');
  assert.equal(safeReturnTarget('https://foo.bar:8080/', behind), 'https://auth.example.com:9443/');
});

test('dangerous shapes fall back to publicUrl', () => {
  const fallback = 'https://auth.example.com/';
  for (const rd of [
    undefined,
    '',
    '//evil.com',
    '/\\evil.com',
    '\\\\evil.com',
    '/\t/evil.com',
    'https://evil.com',
    'https://app.example.com@evil.com/',
    'https://evil.com\\@app.example.com',
    'http://app.example.com/',
    'https://port.bar:9090/',
    'javascript:alert(1)',
    'data:text/html,x',
    'https://app.example.com.evil.com/',
    'https://a.b.wildcard.bar/',
    ' https://app.example.com/',
    'https://app.example.com/\u2028',
  ]) {
    assert.equal(safeReturnTarget(rd, compiled), fallback, String(rd));
  }
});

test('every open-redirect payload of shared/testdata, raw and query-decoded, stays on a configured origin', () => {
  const file = fileURLToPath(new URL('../../test/testdata/openredirects.txt', import.meta.url));
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 500);
  let checked = 0;
  for (const line of lines) {
    let decoded: string | undefined;
    try {
      decoded = new URLSearchParams(`rd=${line}`).get('rd') ?? undefined;
    } catch {
      decoded = undefined;
    }
    for (const rd of [line, decoded]) {
      const out = safeReturnTarget(rd, compiled);
      assert.ok(allowedOrigin(out), `${JSON.stringify(rd)} → ${out}`);
      checked++;
    }
  }
  assert.ok(checked >= 1000);
});
