// server/hsts.test.ts — the Strict-Transport-Security value of `tls.hsts`, and what the schema refuses.
import { SECURITY_HEADERS } from '../runtime/respond.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../schema/config.js';
import { hstsValue } from './hsts.js';

const tls = (hsts: unknown) => configSchema.shape.tls.parse({ certFile: 'tls.crt', keyFile: 'tls.key', ...(hsts === undefined ? {} : { hsts }) });

test('hsts: one year by default (no tls section, or no hsts in it); false sends none', () => {
  assert.equal(hstsValue(undefined), 'max-age=31536000');
  assert.equal(hstsValue(tls(undefined)), 'max-age=31536000');
  assert.equal(hstsValue(tls({})), 'max-age=31536000');
  assert.equal(hstsValue(tls(false)), undefined);
});

test('hsts: maxAge in whole seconds, includeSubDomains and preload as directives', () => {
  assert.equal(hstsValue(tls({ maxAge: '2d', includeSubDomains: true })), 'max-age=172800; includeSubDomains');
  assert.equal(hstsValue(tls({ maxAge: '1500ms' })), 'max-age=1');
  assert.equal(hstsValue(tls({ maxAge: '730d', includeSubDomains: true, preload: true })), 'max-age=63072000; includeSubDomains; preload');
});

test('hsts: preload without includeSubDomains or with less than a year is refused; maxAge 0 and unknown keys too', () => {
  for (const bad of [{ preload: true }, { preload: true, includeSubDomains: true, maxAge: '30d' }, { maxAge: '0s' }, { maxAge: 0 }, { maxage: '1d' }, true]) {
    assert.equal(configSchema.shape.tls.safeParse({ certFile: 'a', keyFile: 'b', hsts: bad }).success, false, JSON.stringify(bad));
  }
});

test("Drawbridge's own answers carry helmet's security headers (computed once), with X-Frame-Options DENY and no CSP or HSTS in the shared set", () => {
  assert.deepEqual({ ...SECURITY_HEADERS }, {
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'DENY',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  });
  assert.ok(Object.isFrozen(SECURITY_HEADERS));
});
