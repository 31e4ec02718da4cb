// forward/identity-headers.test.ts — encodeHeaderValue and the headers setIdentityHeaders adds.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import fc from 'fast-check';
import { alice, makeRoute } from './harness.case.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHeaderTemplate, type HeaderTemplate } from '../routes/header-template.js';
import { encodeHeaderValue, MAX_GROUPS_HEADER_BYTES, MAX_TEMPLATE_BYTES, headerPlan, headerPlans, setIdentityHeaders, type IdentityExtras } from './identity-headers.js';

const extras: IdentityExtras = { requestId: 'req-1', clientIp: '192.0.2.7', proto: 'https', host: 'app.example.com' };
const HEADER_SAFE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$|^$/;

test('encodeHeaderValue: header-safe values are unchanged', () => {
  for (const v of ['alice', 'Alice Liddell', 'a@b.c', "O'Brien (x) <y>", '']) assert.equal(encodeHeaderValue(v), v);
});

test('encodeHeaderValue: non-ASCII, CR/LF, NUL, DEL, % and edge spaces are percent-encoded', () => {
  assert.equal(encodeHeaderValue('Zoë'), 'Zo%C3%AB');
  assert.equal(encodeHeaderValue('山田'), '%E5%B1%B1%E7%94%B0');
  assert.equal(encodeHeaderValue('a\r\nX-Evil: 1'), 'a%0D%0AX-Evil: 1');
  assert.equal(encodeHeaderValue('a\0b\x7f'), 'a%00b%7F');
  assert.equal(encodeHeaderValue('100%'), '100%25');
  assert.equal(encodeHeaderValue(' x '), '%20x%20');
  assert.equal(encodeHeaderValue('😀 ü%'), '%F0%9F%98%80 %C3%BC%25');
  // A lone surrogate has no UTF-8 form: U+FFFD.
  assert.equal(encodeHeaderValue('a\ud800b'), 'a%EF%BF%BDb');
});

test('encodeHeaderValue: always header-safe and decodeURIComponent gives back the exact value', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary-ascii', maxLength: 20 }), (a, b) => {
      const value = a + b;
      const encoded = encodeHeaderValue(value);
      assert.match(encoded, HEADER_SAFE);
      assert.equal(decodeURIComponent(encoded), value);
    }),
    { numRuns: 500 },
  );
});

test('setIdentityHeaders: identity, proxy headers and request id under the default names', () => {
  const h: IncomingHttpHeaders = { host: 'app.example.com' };
  setIdentityHeaders(h, headerPlan(makeRoute('http://127.0.0.1:1')), alice(), { ...extras, assertion: { name: 'X-Drawbridge-Assertion', value: 'jwt' } });
  assert.deepEqual(h, {
    host: 'app.example.com',
    'x-forwarded-user': 'alice',
    'x-forwarded-email': 'alice@example.com',
    'x-forwarded-groups': 'engineering,staff',
    'x-forwarded-name': 'Alice Liddell',
    'x-drawbridge-assertion': 'jwt',
    'x-forwarded-for': '192.0.2.7',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'app.example.com',
    'x-request-id': 'req-1',
  });
});

test('setIdentityHeaders: renamed headers, missing fields skipped, identityHeaders false sends none', () => {
  const renamed = makeRoute('http://127.0.0.1:1', { identityHeaders: { user: 'Remote-User', email: 'Remote-Email', groups: 'Remote-Groups', name: 'Remote-Name' } });
  const h: IncomingHttpHeaders = {};
  setIdentityHeaders(h, headerPlan(renamed), alice({ email: undefined, name: undefined, groups: [] }), extras);
  assert.equal(h['remote-user'], 'alice');
  assert.equal('remote-email' in h || 'remote-name' in h || 'remote-groups' in h || 'x-forwarded-user' in h, false);

  const none: IncomingHttpHeaders = {};
  setIdentityHeaders(none, headerPlan(makeRoute('http://127.0.0.1:1', { identityHeaders: false })), alice(), extras);
  assert.deepEqual(Object.keys(none).sort(), ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-request-id']);

  const anonymous: IncomingHttpHeaders = {};
  setIdentityHeaders(anonymous, headerPlan(makeRoute('http://127.0.0.1:1')), undefined, extras);
  assert.equal(anonymous['x-forwarded-user'], undefined);
});

test('setIdentityHeaders: values are encoded; a comma inside a group is %2C', () => {
  const h: IncomingHttpHeaders = {};
  setIdentityHeaders(h, headerPlan(makeRoute('http://127.0.0.1:1')), alice({ user: 'zoë', name: 'Zoë\r\nX-Evil: 1', groups: ['a,b', 'ü', '50%', 'plain'] }), extras);
  assert.equal(h['x-forwarded-user'], 'zo%C3%AB');
  assert.equal(h['x-forwarded-name'], 'Zo%C3%AB%0D%0AX-Evil: 1');
  assert.equal(h['x-forwarded-groups'], 'a%2Cb,%C3%BC,50%25,plain');
  assert.deepEqual((h['x-forwarded-groups'] as string).split(',').map(decodeURIComponent), ['a,b', 'ü', '50%', 'plain']);
});

test('setIdentityHeaders: the groups header is capped at 8 KiB and flagged as truncated', () => {
  const groups = Array.from({ length: 1000 }, (_, i) => `group-${String(i).padStart(4, '0')}-of-many`);
  const h: IncomingHttpHeaders = {};
  setIdentityHeaders(h, headerPlan(makeRoute('http://127.0.0.1:1')), alice({ groups }), extras);
  const value = h['x-forwarded-groups'] as string;
  assert.ok(value.length <= MAX_GROUPS_HEADER_BYTES && value.length > MAX_GROUPS_HEADER_BYTES - 30);
  assert.deepEqual(value.split(','), groups.slice(0, value.split(',').length));
  assert.equal(h['x-drawbridge-groups-truncated'], '1');

  const small: IncomingHttpHeaders = {};
  setIdentityHeaders(small, headerPlan(makeRoute('http://127.0.0.1:1')), alice(), extras);
  assert.equal(small['x-drawbridge-groups-truncated'], undefined);
});

test('setIdentityHeaders: X-Forwarded-For appends the peer to a trusted chain', () => {
  const h: IncomingHttpHeaders = {};
  setIdentityHeaders(h, headerPlan(makeRoute('http://127.0.0.1:1')), alice(), { ...extras, forwardedFor: '203.0.113.9, 10.0.0.2' });
  assert.equal(h['x-forwarded-for'], '203.0.113.9, 10.0.0.2, 192.0.2.7');
});

test('setIdentityHeaders: the access token only on passAccessToken routes', () => {
  const off: IncomingHttpHeaders = {};
  setIdentityHeaders(off, headerPlan(makeRoute('http://127.0.0.1:1')), alice(), { ...extras, accessToken: 'at' });
  assert.equal(off['x-forwarded-access-token'], undefined);
  const on: IncomingHttpHeaders = {};
  setIdentityHeaders(on, headerPlan(makeRoute('http://127.0.0.1:1', { passAccessToken: true })), alice(), { ...extras, accessToken: 'at' });
  assert.equal(on['x-forwarded-access-token'], 'at');
});

test('setIdentityHeaders: removeRequestHeaders then setRequestHeaders, last', () => {
  const route = makeRoute('http://127.0.0.1:1', {
    removeRequestHeaders: ['x-forwarded-name', 'x-legacy'],
    setRequestHeaders: [
      ['X-App-Key', 'k1'],
      ['X-Forwarded-Proto', 'https'],
    ],
  });
  const h: IncomingHttpHeaders = { 'x-legacy': '1', 'x-forwarded-proto': 'http' };
  setIdentityHeaders(h, headerPlan(route), alice(), { ...extras, proto: 'http' });
  assert.equal(h['x-legacy'], undefined);
  assert.equal(h['x-forwarded-name'], undefined);
  assert.equal(h['x-app-key'], 'k1');
  assert.equal(h['x-forwarded-proto'], 'https');
});

test('setIdentityHeaders: a copy of a route gets its own header plan', () => {
  const route = makeRoute('http://127.0.0.1:1');
  setIdentityHeaders({}, headerPlan(route), alice(), extras);
  const copy = { ...route, identityHeaders: { user: 'Remote-User', email: 'Remote-Email', groups: 'Remote-Groups', name: 'Remote-Name' }, setRequestHeaders: [['X-App', '1'] as const] };
  const h: IncomingHttpHeaders = {};
  setIdentityHeaders(h, headerPlan(copy), alice(), extras);
  assert.equal(h['remote-user'], 'alice');
  assert.equal(h['x-forwarded-user'], undefined);
  assert.equal(h['x-app'], '1');
  const again: IncomingHttpHeaders = {};
  setIdentityHeaders(again, headerPlan(route), alice(), extras);
  assert.equal(again['x-forwarded-user'], 'alice');
  assert.equal(again['x-app'], undefined);
});

const tpl = (v: string): HeaderTemplate => parseHeaderTemplate(v) as HeaderTemplate;
const dir = mkdtempSync(join(tmpdir(), 'drawbridge-idh-'));
const pwFile = join(dir, 'pw');
writeFileSync(pwFile, 's3cr:et\n');

test('setRequestHeaders placeholders: expanded per request, encoded like identity headers, literal {{', () => {
  const route = makeRoute('http://127.0.0.1:1', {
    setRequestHeaders: [
      ['Remote-User', '{user}'],
      ['X-Who', '{name} <{email}> in {groups}'],
      ['X-Dept', '{claim:dept}'],
      ['X-Roles', '{claim:roles}'],
      ['X-Json', '{{"v":1}'],
    ],
  });
  const h: IncomingHttpHeaders = { 'remote-user': 'mallory' };
  setIdentityHeaders(h, headerPlan(route), alice({ claims: { dept: 'R&D', roles: ['a,b', 'c', 7] } }), extras);
  assert.equal(h['remote-user'], 'alice');
  assert.equal(h['x-who'], 'Alice Liddell <alice@example.com> in engineering,staff');
  assert.equal(h['x-dept'], 'R&D');
  assert.equal(h['x-roles'], 'a%2Cb,c,7');
  assert.equal(h['x-json'], '{"v":1}');
});

test('setRequestHeaders placeholders: CR/LF, NUL, non-ASCII and % in claims are percent-encoded, never raw', () => {
  const route = makeRoute('http://127.0.0.1:1', { setRequestHeaders: [['Remote-User', '{user}'], ['X-Name', 'n={name}'], ['X-C', '{claim:c}']] });
  const h: IncomingHttpHeaders = {};
  setIdentityHeaders(h, headerPlan(route), alice({ user: 'bob\r\nX-Forwarded-User: admin', name: 'Zoë 100%', claims: { c: 'a\0b\nc' } }), extras);
  assert.equal(h['remote-user'], 'bob%0D%0AX-Forwarded-User: admin');
  assert.equal(h['x-name'], 'n=Zo%C3%AB 100%25');
  assert.equal(h['x-c'], 'a%00b%0Ac');
  for (const v of Object.values(h)) assert.match(String(v), HEADER_SAFE);
});

test('setRequestHeaders placeholders: no identity, a missing, empty, unverified or object value, or over the cap: the header is not sent (a client copy removed)', () => {
  const route = makeRoute('http://127.0.0.1:1', {
    public: true,
    setRequestHeaders: [['Remote-User', '{user}'], ['X-Mail', 'mail={email}'], ['X-C', '{claim:c}'], ['X-Fixed', 'yes']],
  });
  const anon: IncomingHttpHeaders = { 'remote-user': 'admin', 'x-mail': 'mail=admin@corp', 'x-c': 'x' };
  setIdentityHeaders(anon, headerPlan(route), undefined, extras);
  assert.deepEqual([anon['remote-user'], anon['x-mail'], anon['x-c'], anon['x-fixed']], [undefined, undefined, undefined, 'yes']);
  const cases = [alice({ emailVerified: false, claims: { c: { nested: 1 } } }), alice({ email: undefined, claims: { c: '' } }), alice({ emailVerified: false, claims: { c: [{}] } })];
  for (const id of cases) {
    const h: IncomingHttpHeaders = { 'x-mail': 'spoof', 'x-c': 'spoof' };
    setIdentityHeaders(h, headerPlan(route), id, extras);
    assert.equal(h['x-mail'], undefined);
    assert.equal(h['x-c'], undefined);
    assert.equal(h['remote-user'], 'alice');
  }
  const huge: IncomingHttpHeaders = { 'remote-user': 'spoof' };
  setIdentityHeaders(huge, headerPlan(route), alice({ user: 'a'.repeat(MAX_TEMPLATE_BYTES + 1) }), extras);
  assert.equal(huge['remote-user'], undefined);
  const encodedHuge: IncomingHttpHeaders = {};
  // Under the cap raw, over it encoded: the cap is on what is sent.
  setIdentityHeaders(encodedHuge, headerPlan(route), alice({ user: '\n'.repeat(3000) }), extras);
  assert.equal(encodedHuge['remote-user'], undefined);
  const fits: IncomingHttpHeaders = {};
  setIdentityHeaders(fits, headerPlan(route), alice({ user: 'a'.repeat(MAX_TEMPLATE_BYTES) }), extras);
  assert.equal(fits['remote-user'], 'a'.repeat(MAX_TEMPLATE_BYTES));
});

test('upstreamAuth.basic: Authorization Basic base64(user:password) in UTF-8, replacing the client\'s', () => {
  const route = makeRoute('http://127.0.0.1:1', { basicAuth: { user: tpl('{user}'), passwordFile: pwFile } });
  const h: IncomingHttpHeaders = { authorization: 'Basic YWRtaW46YWRtaW4=' };
  setIdentityHeaders(h, headerPlan(route), alice({ user: 'josé' }), extras);
  assert.equal(h.authorization, `Basic ${Buffer.from('josé:s3cr:et', 'utf8').toString('base64')}`);
  const fixed = makeRoute('http://127.0.0.1:1', { basicAuth: { user: tpl('svc-wiki'), passwordFile: pwFile } });
  const f: IncomingHttpHeaders = { authorization: 'Bearer x' };
  setIdentityHeaders(f, headerPlan(fixed), undefined, extras);
  assert.equal(f.authorization, `Basic ${Buffer.from('svc-wiki:s3cr:et').toString('base64')}`);
});

test('upstreamAuth.basic: a user with ":" or a control character, none, or over the cap sends no Authorization at all', () => {
  const route = makeRoute('http://127.0.0.1:1', { basicAuth: { user: tpl('{user}'), passwordFile: pwFile } });
  for (const id of [alice({ user: 'admin:x' }), alice({ user: 'a\r\nb' }), alice({ user: 'a\u0085b' }), alice({ user: 'x'.repeat(MAX_TEMPLATE_BYTES + 1) }), undefined]) {
    const h: IncomingHttpHeaders = { authorization: 'Basic YWRtaW46YWRtaW4=' };
    setIdentityHeaders(h, headerPlan(route), id, extras);
    assert.equal(h.authorization, undefined, JSON.stringify(id?.user));
  }
});

test('headerPlans: routes with the same plan share one (aligned with the routes); different names, edits, passAccessToken or Basic credentials get their own', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-plans-'));
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, 'pw\n');
  const plain = makeRoute('http://127.0.0.1:1');
  const basic = { ...plain, basicAuth: { user: parseHeaderTemplate('svc') as HeaderTemplate, passwordFile } };
  const routes = [
    plain,
    makeRoute('http://127.0.0.1:2'),
    makeRoute('http://127.0.0.1:1', { passAccessToken: true }),
    makeRoute('http://127.0.0.1:1', { identityHeaders: { user: 'Remote-User', email: 'Remote-Email', groups: 'Remote-Groups', name: 'Remote-Name' } }),
    makeRoute('http://127.0.0.1:1', { setRequestHeaders: [['X-App', '1']] }),
    makeRoute('http://127.0.0.1:1', { setRequestHeaders: [['X-App', '2']] }),
    makeRoute('http://127.0.0.1:1', { removeRequestHeaders: ['x-legacy'] }),
    makeRoute('http://127.0.0.1:1', { identityHeaders: false }),
    basic,
    basic,
    makeRoute('http://127.0.0.1:3', { setRequestHeaders: [['X-App', '1']] }),
  ];
  const plans = headerPlans(routes);
  assert.equal(plans.length, routes.length);
  assert.equal(plans[0], plans[1], 'the default plan is shared');
  assert.equal(plans[4], plans[10], 'the same edits share a plan');
  assert.notEqual(plans[8], plans[9], 'a plan with Basic credentials is its route\'s own');
  assert.equal(new Set(plans.slice(0, 9)).size, 8);
  // Each shared plan does what its routes' own plans do.
  routes.forEach((route, i) => {
    const shared: IncomingHttpHeaders = { 'x-legacy': '1', authorization: 'Basic x' };
    const own: IncomingHttpHeaders = { 'x-legacy': '1', authorization: 'Basic x' };
    setIdentityHeaders(shared, plans[i]!, alice(), { ...extras, accessToken: 'at' });
    setIdentityHeaders(own, headerPlan(route), alice(), { ...extras, accessToken: 'at' });
    assert.deepEqual(shared, own, `route ${i}`);
  });
});

test('upstreamAuth.basic: an unreadable password file fails headerPlan (provisioning: start or reload), naming the route', () => {
  const route = makeRoute('http://127.0.0.1:1', { name: 'legacy', basicAuth: { user: tpl('{user}'), passwordFile: join(dir, 'missing') } });
  assert.throws(() => headerPlan(route), (e: Error & { code?: string }) => e.code === 'DRB_CONFIG_READ' && /route "legacy" upstreamAuth.basic.passwordFile: .*ENOENT/.test(e.message));
});

test('setIdentityHeaders: the assertion under its configured name, lower-cased, also when a reload renames it', () => {
  const plan = headerPlan(makeRoute('http://127.0.0.1:1'));
  for (const [name, key] of [['X-Drawbridge-Assertion', 'x-drawbridge-assertion'], ['X-Signed-Identity', 'x-signed-identity'], ['X-Signed-Identity', 'x-signed-identity'], ['x-drawbridge-assertion', 'x-drawbridge-assertion']]) {
    const h: IncomingHttpHeaders = {};
    setIdentityHeaders(h, plan, alice(), { ...extras, assertion: { name: name!, value: `jwt-${name}` } });
    assert.equal(h[key!], `jwt-${name}`, name);
    assert.equal(Object.keys(h).filter((k) => k.startsWith('x-signed') || k.startsWith('x-drawbridge-assertion')).length, 1, name);
  }
});
