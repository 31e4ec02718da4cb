// cli/cli.test.ts — the operator commands as a new user runs them: validate, explain, test, schema, keygen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './index.js';
import { certDir, makeCa, makeDeviceCert } from '../../../test-support/certs.js';

async function run(...argv: string[]): Promise<{ code: number | undefined; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {} });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'drawbridge-cli-'));

test('validate: the example configuration is valid (missing ${ENV} are warnings)', async () => {
  const r = await run('validate', 'config/example.yaml');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /OK \(\d+ routes\)/);
  assert.match(r.err, /config\/example\.yaml:\d+:\d+: warning: environment variable DRAWBRIDGE_CLIENT_SECRET is not set/);
  const strict = await run('validate', '--strict-env', 'config/example.yaml');
  assert.equal(strict.code, 1);
});

test('validate: an unknown key, an invalid CIDR and a duplicate route name are all named with FILE:LINE:COL', async () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/33]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789, colour: blue }
routes:
  - { name: a, from: https://a.example.com, to: http://10.0.0.1, public: true }
  - { name: a, from: https://b.example.com, to: http://10.0.0.1, public: true }
`,
  );
  const r = await run('validate', file);
  assert.equal(r.code, 1);
  const lines = r.err.trim().split('\n');
  assert.ok(lines.some((l) => l.startsWith(`${file}:2:`) && /CIDR|prefix/.test(l)), r.err);
  assert.ok(lines.some((l) => l.startsWith(`${file}:4:`) && /unknown key "colour"/.test(l)), r.err);
  assert.ok(lines.some((l) => l.startsWith(`${file}:7:`) && /duplicate route name "a"/.test(l)), r.err);
  assert.match(r.err, /3 errors/);
});

test('explain: the acceptance example prints the route, step-up and the failing rule', async () => {
  const r = await run('explain', 'config/example.yaml', '--url', 'https://wiki.example.com/admin/settings', '--user', 'dave', '--groups', 'wiki-admins', '--auth-age', '2h');
  assert.equal(r.code, 1, r.err);
  assert.match(r.out, /route: +wiki-admin/);
  assert.match(r.out, /decision: step-up/);
  assert.match(r.out, /mfa-missing/);
  assert.match(r.out, /auth-too-old/);
});

test('explain: --time shows a just-in-time grant expiring, anonymous gets sign-in, no route is 404', async () => {
  const before = await run('explain', 'config/example.yaml', '--url', 'https://tickets.example.com/', '--user', 'carlos', '--time', '2026-12-05T17:59:59Z');
  assert.match(before.out, /decision: allow/);
  const after = await run('explain', 'config/example.yaml', '--url', 'https://tickets.example.com/', '--user', 'carlos', '--time', '2026-12-05T18:00:01Z');
  assert.match(after.out, /decision: deny/);
  assert.match(after.out, /grant-expired/);
  const anon = await run('explain', 'config/example.yaml', '--url', 'https://wiki.example.com/');
  assert.match(anon.out, /decision: sign-in\n/);
  // A route that needs MFA and a recent sign-in of everybody asks for them at the first sign-in.
  const anonAdmin = await run('explain', 'config/example.yaml', '--url', 'https://wiki.example.com/admin/settings');
  assert.match(anonAdmin.out, /decision: sign-in \(asks the IdP at once for multi-factor sign-in, a sign-in at most 900s old\)/);
  const none = await run('explain', 'config/example.yaml', '--url', 'https://nowhere.example.org/');
  assert.match(none.out, /none serves nowhere\.example\.org\//);
  const bad = await run('explain', 'config/example.yaml', '--url', 'https://wiki.example.com/a%2Fb');
  assert.match(bad.out, /400/);
});

test('explain: a /.drawbridge/ path on a route host is answered by Drawbridge itself, not by the route and its policy (issue 14)', async () => {
  for (const url of ['https://wiki.example.com/.drawbridge/me', 'https://wiki.example.com/.drawbridge/auth', 'https://wiki.example.com/admin/../.drawbridge/sign_in?rd=/']) {
    const r = await run('explain', 'config/example.yaml', '--url', url, '--user', 'erin', '--groups', 'engineering', '--ip', '10.1.2.3');
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /one of Drawbridge's own paths/, url);
    assert.match(r.out, /decision: reserved/, url);
    assert.doesNotMatch(r.out, /route: +wiki/, url);
  }
});

test('explain: --ip unknown replays an unknown client address: the office-only deny rule is undecided and denies', async () => {
  const args = ['explain', 'config/example.yaml', '--url', 'https://wiki.example.com/', '--user', 'alice', '--groups', 'engineering'];
  const unknown = await run(...args, '--ip', 'unknown');
  assert.equal(unknown.code, 1, unknown.err);
  assert.match(unknown.out, /decision: deny\n/);
  assert.match(unknown.out, /reasons: +deny-undecided: .*ip-unknown/);
  assert.match(unknown.out, /^ {2}\? {5}deny\[0\] not: \{ policy: office-net \}$/m);
  const office = await run(...args, '--ip', '10.1.2.3');
  assert.match(office.out, /decision: allow\n/);
});

test('validate and explain refuse a regex route behind the port-less catch-all; on a port with no catch-all, explain shows it matched', async () => {
  const head = `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
`;
  const shadowed = join(dir, 'shadowed.yaml');
  writeFileSync(
    shadowed,
    `${head}  - { name: site, from: https://a.example.com, to: http://10.0.0.1, public: true }
  - { name: exports, from: "https://a.example.com:8443", regex: "^/exports/", to: http://10.0.0.2, policy: { allow: [ { groups: [finance] } ] } }
`,
  );
  const col = readFileSync(shadowed, 'utf8').split('\n')[6]!.indexOf('"^/exports/"') + 1;
  const expected = `${shadowed}:7:${col}: this regex route can never match: routes[0] "site" serves every path of a.example.com:8443`;
  const v = await run('validate', shadowed);
  assert.equal(v.code, 1);
  assert.ok(v.err.includes(expected), v.err);
  const e = await run('explain', shadowed, '--url', 'https://a.example.com:8443/exports/1', '--user', 'alice');
  assert.equal(e.code, 2, 'explain never describes a table the server would refuse to load');
  assert.ok(e.err.includes(expected), e.err);

  // The catch-all only on :9443: the table (the server's and explain's) serves the regex route on every other port.
  const ported = join(dir, 'ported.yaml');
  writeFileSync(
    ported,
    `${head}  - { name: site, from: "https://a.example.com:9443", to: http://10.0.0.1, public: true }
  - { name: exports, from: https://a.example.com, regex: "^/exports/", to: http://10.0.0.2, policy: { allow: [ { groups: [finance] } ] } }
`,
  );
  assert.equal((await run('validate', ported)).code, 0);
  const onDefault = await run('explain', ported, '--url', 'https://a.example.com/exports/1', '--user', 'alice', '--groups', 'finance');
  assert.match(onDefault.out, /route: +exports/);
  assert.match(onDefault.out, /decision: allow/);
  const on9443 = await run('explain', ported, '--url', 'https://a.example.com:9443/exports/1', '--user', 'alice');
  assert.match(on9443.out, /route: +site/);
});

test('test: the example policy tests pass; a wrong expectation fails with its location and "N passed, N failed"', async () => {
  const ok = await run('test', 'config/example.yaml', 'config/example.tests.yaml');
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /^\d+ passed, 0 failed$/m);
  const file = join(dir, 'tests.yaml');
  writeFileSync(
    file,
    `tests:
  - name: bob on the wiki
    request: { url: https://wiki.example.com/, ip: 10.0.0.1 }
    identity: { user: bob, groups: [sales] }
    expect: allow
  - name: anonymous
    request: { url: https://wiki.example.com/ }
    expect: sign-in
`,
  );
  const failed = await run('test', 'config/example.yaml', file);
  assert.equal(failed.code, 1);
  assert.match(failed.out, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:\\d+: FAIL bob on the wiki: expected allow, got deny`));
  assert.match(failed.out, /^1 passed, 1 failed$/m);
});

test('schema prints the JSON Schema; keygen prints a usable ES256 key and a secret', async () => {
  const schema = await run('schema');
  const parsed = JSON.parse(schema.out) as { properties: Record<string, unknown> };
  assert.ok(parsed.properties.routes && parsed.properties.idp);
  const keys = await run('keygen');
  const pem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(keys.out)![0];
  const key = createPrivateKey(pem);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(createPublicKey(key).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const secret = keys.out.trim().split('\n').pop()!;
  assert.ok(Buffer.byteLength(secret) >= 32);
});

test('unknown command and usage', async () => {
  assert.equal((await run('frobnicate')).code, 2);
  assert.match((await run('--help')).out, /Usage: drawbridge/);
});

test('explain: shows the upstream URL an allowed request is sent to, rewrites applied (or why a rewrite refuses it)', async () => {
  const assets = await run('explain', 'config/example.yaml', '--url', 'https://docs.example.com/static/css/app.css?v=2');
  assert.equal(assets.code, 0, assets.err);
  assert.match(assets.out, /route: +docs-assets \(from https:\/\/docs\.example\.com\/static → http:\/\/10\.0\.0\.14:8080\/assets\)/);
  assert.match(assets.out, /\nupstream: http:\/\/10\.0\.0\.14:8080\/assets\/css\/app\.css\?v=2\n/);
  const api = await run('explain', 'config/example.yaml', '--url', 'https://docs.example.com/api/users', '--user', 'alice', '--email', 'alice@example.com');
  assert.match(api.out, /\nupstream: http:\/\/10\.0\.0\.14:8080\/v2\/users\n/);
  const wiki = await run('explain', 'config/example.yaml', '--url', 'https://docs.example.com/wiki/Main_Page', '--user', 'alice', '--email', 'alice@example.com');
  assert.match(wiki.out, /\nupstream: http:\/\/10\.0\.0\.14:8080\/index\.php\/Main_Page\n/);
  const plain = await run('explain', 'config/example.yaml', '--url', 'https://wiki.example.com/static/logo.png');
  assert.match(plain.out, /\nupstream: http:\/\/10\.0\.0\.5:8080\/static\/logo\.png\n/);
  const file = join(dir, 'rewrite.yaml');
  writeFileSync(
    file,
    `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - { name: files, from: https://f.example.com, to: http://10.0.0.1, public: true, rewrite: { regex: "^/files/(.*)x$", replace: "/data/$1/y" } }
`,
  );
  const refused = await run('explain', file, '--url', 'https://f.example.com/files/..x');
  assert.match(refused.out, /\nupstream: none: refused with 400 \(.*"\/data\/\.\.\/y".*\)\n/);
});

test('explain shows the client address it assumed; an invalid --ip is a usage error, "unknown" is not', async () => {
  const url = ['explain', 'config/example.yaml', '--url', 'https://wiki.example.com/', '--user', 'alice', '--groups', 'engineering'];
  const assumed = await run(...url);
  assert.match(assumed.out, /^client: +127\.0\.0\.1 \(the default; --ip sets it\)$/m);
  assert.match((await run(...url, '--ip', '10.1.2.3')).out, /^client: +10\.1\.2\.3$/m);
  assert.match((await run(...url, '--ip', 'unknown')).out, /^client: +unknown \(ip rules are undecided\)$/m);
  for (const ip of ['10.0.0.300', '10.1.2', 'office', '::ffff:10.0.0.256', '']) {
    const bad = await run(...url, '--ip', ip);
    assert.equal(bad.code, 2, `--ip ${ip}`);
    assert.equal(bad.out, '', 'no decision is printed for an address that is none');
    assert.match(bad.err, /is not an IPv4 or IPv6 address/);
  }
  assert.equal((await run(...url, '--ip', '2001:db8::1')).code, 1, 'an IPv6 address outside the office is a deny, not a usage error');
});

test('explain --claim reads JSON values (numbers, booleans, lists) and falls back to a string', async () => {
  const file = join(dir, 'claims.yaml');
  writeFileSync(
    file,
    `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - { name: level, from: https://a.example.com, to: http://10.0.0.1, policy: { allow: [ { claim: { level: [3] } } ] } }
  - { name: staff, from: https://b.example.com, to: http://10.0.0.1, policy: { allow: [ { claim: { staff: true, team: [red] } } ] } }
`,
  );
  const level = (v: string) => run('explain', file, '--url', 'https://a.example.com/', '--user', 'u', '--claim', `level=${v}`);
  const number = await level('3');
  assert.equal(number.code, 0, number.out);
  assert.match(number.out, /claims \{"level":3\}/);
  const quoted = await level('"3"');
  assert.equal(quoted.code, 1, 'a quoted JSON string stays the string "3", which never equals 3');
  assert.match(quoted.out, /claims \{"level":"3"\}/);
  const staff = await run('explain', file, '--url', 'https://b.example.com/', '--user', 'u', '--claim', 'staff=true', '--claim', 'team=["blue","red"]');
  assert.equal(staff.code, 0, staff.out);
  const text = await run('explain', file, '--url', 'https://b.example.com/', '--user', 'u', '--claim', 'staff=yes', '--claim', 'team=red');
  assert.equal(text.code, 1, 'not JSON: the string "yes", which is not true');
  assert.match(text.out, /claims \{"staff":"yes","team":"red"\}/);
  assert.equal((await run('explain', file, '--url', 'https://b.example.com/', '--claim', 'novalue')).code, 2);
});

test('test: a request.ip that is no address is refused at its line, never a vacuous pass', async () => {
  const file = join(dir, 'bad-ip.tests.yaml');
  writeFileSync(
    file,
    `tests:
  - name: outside the office is denied
    request: { url: https://wiki.example.com/, ip: 10.0.0.300 }
    identity: { user: alice, groups: [engineering] }
    expect: deny
`,
  );
  const r = await run('test', 'config/example.yaml', file);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: .*IPv4 or IPv6 address, or "unknown"`));
  assert.doesNotMatch(r.out, /passed/);
  // A failure says which client address the request came from (the default is not silent).
  writeFileSync(file, 'tests:\n  - name: anonymous\n    request: { url: https://wiki.example.com/ }\n    expect: allow\n');
  assert.match((await run('test', 'config/example.yaml', file)).out, /client 127\.0\.0\.1 \(the default\), now/);
});

test('serve without a configuration file says how to create one, not that it is invalid', async () => {
  const missing = join(dir, 'none', 'drawbridge.yaml');
  const r = await run('serve', '--config', missing);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`no configuration at ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(r.err, /cp config\/example\.yaml/);
  assert.match(r.err, /drawbridge keygen/);
  assert.match(r.err, /docs\/getting-started\.md/);
  assert.doesNotMatch(r.err, /is invalid/);
});

test('explain: the risk rule lists the session signals that counted (--signal), and the context rule compares --session-ip', async () => {
  const file = join(dir, 'risk.yaml');
  writeFileSync(
    file,
    `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - name: pay
    from: https://pay.example.com
    to: http://10.0.0.1
    policy:
      deny:
        - risk: { threshold: 4, weights: { contextChange: 2, denialBurst: 3, newNetwork: 2 } }
      allow:
        - and: [ { groups: [finance] }, { context: { sameNetwork: /24 } } ]
`,
  );
  const base = ['explain', file, '--url', 'https://pay.example.com/', '--user', 'erin', '--groups', 'finance', '--ip', '203.0.113.7', '--time', '2026-12-06T10:00:00Z'];
  const calm = await run(...base, '--signal', 'context-change@10m');
  assert.equal(calm.code, 0, calm.out + calm.err);
  assert.match(calm.out, /decision: allow/);
  assert.match(calm.out, /risk-low: .*\(score 2, threshold 4\)/);
  const risky = await run(...base, '--signal', 'context-change@10m', '--signal', 'new-network@5m', '--signal', 'denial*5@30s', '--signal', 'context-change@2h');
  assert.equal(risky.code, 1);
  assert.match(risky.out, /decision: deny/);
  assert.match(risky.out, /risk-ok: .*\(score 7, threshold 4\)/);
  assert.match(risky.out, /risk-context-change: This session changed network, device or browser\. \(1 in the last 1h, weight 2 each\)/);
  assert.match(risky.out, /risk-new-network: .*\(1 in the last 1h, weight 2 each\)/);
  assert.match(risky.out, /risk-denial-burst: .*\(5 refusals within 1m, weight 3\)/);
  const moved = await run(...base, '--session-ip', '198.51.100.9');
  assert.equal(moved.code, 1);
  assert.match(moved.out, /decision: step-up \(needs a sign-in at most 300s old\)/);
  assert.match(moved.out, /context-network-changed: This session was started on another network\./);
  const bad = await run(...base, '--signal', 'phase-of-moon');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--signal "phase-of-moon" is not KIND/);
});

test('explain: a refused user of a route with requests: could ask, and who approves; a deny rule: could not', async () => {
  const file = join(dir, 'requests.yaml');
  writeFileSync(
    file,
    `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
policies:
  wiki-approvers: { allow: [ { and: [ { groups: [wiki-admins] }, { mfa: true } ] } ] }
routes:
  - name: wiki-admin
    from: https://wiki.example.com
    to: http://10.0.0.5:8080
    policy:
      allow: [ { groups: [wiki-admins] } ]
      deny: [ { path: [/locked] } ]
    requests: { approvers: wiki-approvers, maxDuration: 4h, autoApprove: { allow: [ { groups: [on-call] } ] } }
`,
  );
  const asked = await run('explain', file, '--url', 'https://wiki.example.com/', '--user', 'bob', '--groups', 'sales');
  assert.equal(asked.code, 1);
  assert.match(asked.out, /^access request: possible from the 403 page \(up to 4 hours, reason required\); approvers: policy wiki-approvers; approved at once for: groups: \[on-call\]$/m);
  const locked = await run('explain', file, '--url', 'https://wiki.example.com/locked', '--user', 'bob', '--groups', 'sales');
  assert.match(locked.out, /^access request: not possible \(a deny rule refuses this request; no approval changes that\)$/m);
  const allowed = await run('explain', file, '--url', 'https://wiki.example.com/', '--user', 'carol', '--groups', 'wiki-admins');
  assert.equal(allowed.code, 0);
  assert.doesNotMatch(allowed.out, /access request/);
});

test('explain --device-cert: the device rule sees the certificate (taken as verified); without it, device-missing; a bad file is exit 2', async () => {
  const certs = certDir();
  const ca = makeCa(certs, 'device-ca');
  const laptop = makeDeviceCert(certs, ca, 'laptop', { subject: '/CN=laptop-42/O=Example', san: ['URI:urn:device:laptop-42'] });
  const file = join(dir, 'device.yaml');
  writeFileSync(
    file,
    `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - name: pay
    from: https://pay.example.com
    to: http://10.0.0.1
    policy: { allow: [ { and: [ { groups: [finance] }, { device: { san: ["URI:urn:device:laptop-42"] } } ] } ] }
`,
  );
  const base = ['explain', file, '--url', 'https://pay.example.com/', '--user', 'erin', '--groups', 'finance'];
  const with_ = await run(...base, '--device-cert', laptop.certFile);
  assert.equal(with_.code, 0, with_.out + with_.err);
  assert.match(with_.out, /decision: allow/);
  assert.match(with_.out, /^device: {3}CN=laptop-42, O=Example \(sha256 [0-9a-f]{16}…\), taken as verified$/m);
  const without = await run(...base);
  assert.equal(without.code, 1);
  assert.match(without.out, /device-missing/);
  const bad = await run(...base, '--device-cert', file);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /explain: --device-cert .*device\.yaml: /);
});
