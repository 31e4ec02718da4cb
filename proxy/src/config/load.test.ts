// config/load.test.ts — configuration errors: every mistake named with FILE:LINE:COL, all at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadConfigText } from './load.js';
import { formatIssue } from './locate.js';

const SECRET = 'a-session-secret-that-is-long-enough-0123456789';

/** A valid configuration; `patch` replaces one marked line. */
function base(extra = '', routes = ROUTES): string {
  return `publicUrl: https://auth.example.com
tls: { certFile: tls.crt, keyFile: tls.key }
idp:
  issuer: https://idp.example.com
  clientId: drawbridge
  clientSecret: s3cret
session:
  secret: ${SECRET}
${extra}
routes:
${routes}`;
}
const ROUTES = `  - name: wiki
    from: https://wiki.example.com
    to: http://10.0.0.5:8080
    policy:
      allow:
        - groups: [engineering]
`;

function errors(text: string, env: Record<string, string> = {}): string[] {
  const r = loadConfigText(text, 'f.yaml', env);
  assert.equal(r.ok, false, 'expected the configuration to be refused');
  return r.ok ? [] : r.errors.map(formatIssue);
}

/** The 1-based line of the first (or, with "needle#N", the Nth) line containing needle. */
function lineOf(text: string, needle: string): number {
  const [what, nth] = needle.split('#');
  let seen = 0;
  return text.split('\n').findIndex((l) => l.includes(what) && ++seen === Number(nth ?? 1)) + 1;
}

test('the valid base configuration loads, with defaults applied', () => {
  const r = loadConfigText(base(), 'f.yaml');
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  assert.equal(r.config.session.cookieName, 'drawbridge');
  assert.equal(r.config.routes[0].timeout, '30s');
  assert.deepEqual(r.config.idp.scopes, ['openid', 'email', 'profile']);
});

// [name, text, expected fragment, the line the error must point at]
const MISTAKES: Array<[string, string, RegExp, string]> = [
  ['YAML syntax error', base('log: { level: info'), /YAML/, 'routes:'],
  ['unknown top-level key', base('colour: blue'), /unknown key "colour"/, 'colour:'],
  ['unknown nested key', base('log: { level: info, formt: json }'), /log: unknown key "formt"/, 'formt'],
  ['unknown rule', base('', ROUTES.replace('groups:', 'grups:')), /unknown rule "grups"/, 'grups'],
  ['invalid CIDR', base('trustedProxies: [10.0.0.300/8]'), /invalid CIDR|not an IPv4/, 'trustedProxies'],
  ['duplicate route name', base('', ROUTES + ROUTES.replace('wiki.example.com', 'b.example.com')), /duplicate route name "wiki"/, 'name: wiki#2'],
  ['same host and prefix twice', base('', ROUTES + ROUTES.replace('name: wiki', 'name: wiki2')), /same host and prefix/, 'from: https://wiki.example.com#2'],
  ['unknown named policy', base('', ROUTES.replace('policy:\n      allow:\n        - groups: [engineering]', 'policy: staff')), /staff/, 'policy: staff'],
  ['cycle among named policies', base('policies:\n  a: { allow: [ { policy: b } ] }\n  b: { allow: [ { policy: a } ] }'), /cycle|a → b|b → a/, '  b:'],
  ['invalid regex', base('', ROUTES.replace('from: https://wiki.example.com', 'from: https://wiki.example.com\n    regex: "([a-z"')), /invalid regex/, 'regex:'],
  ['to is not http(s)', base('', ROUTES.replace('to: http://10.0.0.5:8080', 'to: ftp://10.0.0.5')), /http:\/\/ or https:\/\//, 'to: ftp'],
  ['non-public route without allow', base('', ROUTES.replace('    policy:\n      allow:\n        - groups: [engineering]\n', '    policy: { deny: [ { groups: [x] } ] }\n')), /no allow rule/, 'deny:'],
  ['route without any policy', base('', ROUTES.replace('    policy:\n      allow:\n        - groups: [engineering]\n', '')), /not public and has no policy/, 'name: wiki'],
  ['short session secret', base().replace(SECRET, 'short'), /at least 32 bytes/, 'secret: short'],
  ['publicUrl not https', base().replace('publicUrl: https://', 'publicUrl: http://'), /publicUrl must be https/, 'publicUrl'],
  ['bad duration', base('', ROUTES + '    timeout: 30 seconds\n'), /duration|timeout/, 'timeout:'],
  ['wrong type', base('', ROUTES + '    public: yes please\n'), /routes\[0\]\.public: expected true or false, got a string "yes please"/, 'public:'],
  ['missing required key', base().replace('  clientId: drawbridge\n', ''), /missing required key "clientId"/, 'idp:'],
  ['invalid time zone', base('', ROUTES.replace('- groups: [engineering]', '- time: { from: "08:00", to: "18:00", tz: Mars/Olympus }')), /Mars\/Olympus|time zone/i, 'tz:'],
  ['bad from', base('', ROUTES.replace('from: https://wiki.example.com', 'from: wiki.example.com')), /"from" must look like/, 'from: wiki'],
  ['path rule not normalized', base('', ROUTES.replace('- groups: [engineering]', '- path: [/reports, /a//b]')), /routes\[0\]\.policy\.allow\[0\]\.path\[1\]: a path prefix must be normalized: write "\/a\/b" instead of "\/a\/\/b"/, 'path: [/reports'],
  ['path rule with an escape, in a named policy inside and/not', base('policies:\n  p:\n    allow:\n      - and:\n          - groups: [x]\n          - not: { path: [/%73ecret] }'), /policies\.p\.allow\[0\]\.and\[1\]\.not\.path\[0\]: a path prefix may only contain/, '%73ecret'],
  ['regex route behind a catch-all', base('', ROUTES.replace('from: https://wiki.example.com', 'from: https://wiki.example.com\n    regex: "^/exports/"') + ROUTES.replace('name: wiki', 'name: wiki-all')), /this regex route can never match: routes\[1\] "wiki-all" serves every path of wiki\.example\.com/, 'regex:'],
  ['route timeout longer than global', base('', ROUTES + '    session: { idleTimeout: 2h }\n'), /must not be longer/, 'session: { idle'],
  ['keepRequestHeaders naming a header outside the override set', base('', ROUTES + '    keepRequestHeaders: [X-Original-URL, X-Forwarded-User]\n'), /keepRequestHeaders\[1\]: only an override header/, 'keepRequestHeaders'],
];

for (const [name, text, expected, at] of MISTAKES) {
  test(`config error: ${name} is named with its line and column`, () => {
    const errs = errors(text);
    const hit = errs.find((e) => expected.test(e));
    assert.ok(hit, `no error matching ${expected} in:\n${errs.join('\n')}`);
    const m = /^f\.yaml:(\d+):(\d+): /.exec(hit);
    assert.ok(m, `not FILE:LINE:COL: ${hit}`);
    const want = lineOf(text, at);
    assert.equal(Number(m[1]), want, `${hit} should point at line ${want} ("${at}")`);
    assert.ok(Number(m[2]) >= 1);
  });
}

test('keepRequestHeaders: the override headers, in any case, are accepted and compiled lower-case', async () => {
  const r = loadConfigText(base('', ROUTES + '    keepRequestHeaders: [X-Original-URL, x-rewrite-url, X-HTTP-Method-Override]\n'), 'f.yaml');
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  const { compileConfig } = await import('../routes/compile.js');
  const [route] = compileConfig(r.config).table.routes;
  assert.deepEqual([...route!.keepRequestHeaders!], ['x-original-url', 'x-rewrite-url', 'x-http-method-override']);
  const plain = loadConfigText(base(), 'f.yaml');
  assert.ok(plain.ok);
  assert.equal(compileConfig(plain.config).table.routes[0]!.keepRequestHeaders, undefined, 'none by default');
});

test('a non-normalized path rule is named at its own scalar, in a route policy and in a named policy', () => {
  const text = base('policies:\n  p: { deny: [ { or: [ { path: [/x/./y] } ] } ], allow: [ { authenticated: true } ] }', ROUTES.replace('- groups: [engineering]', '- path: [/reports, /caf%c3%a9]'));
  const errs = errors(text);
  const at = (needle: string) => `f.yaml:${lineOf(text, needle)}:${text.split('\n')[lineOf(text, needle) - 1]!.indexOf(needle) + 1}: `;
  assert.deepEqual(errs, [
    `${at('/x/./y')}policies.p.deny[0].or[0].path[0]: a path prefix must be normalized: write "/x/y" instead of "/x/./y"`,
    `${at('/caf%c3%a9')}routes[0].policy.allow[0].path[1]: a path prefix may only contain letters, digits, "-", ".", "_", "~" and "/" (got "/caf%c3%a9")`,
  ]);
});

test('all errors at once: an unknown key, an invalid CIDR and a duplicate route name in one run', () => {
  const text = base('trustedProxies: [10.0.0.300/8]\nlisten_port: 80', ROUTES + ROUTES.replace('wiki.example.com', 'b.example.com'));
  const errs = errors(text);
  assert.ok(errs.some((e) => /unknown key "listen_port"/.test(e)), errs.join('\n'));
  assert.ok(errs.some((e) => /CIDR|IPv4/.test(e)), errs.join('\n'));
  assert.ok(errs.some((e) => /duplicate route name/.test(e)), errs.join('\n'));
  const lines = errs.map((e) => Number(/:(\d+):/.exec(e)![1]));
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b), 'errors are reported in file order');
});

test('${ENV} is interpolated; a missing variable is an error at its scalar, or a warning for offline tools', () => {
  const text = base().replace('clientSecret: s3cret', 'clientSecret: ${CLIENT_SECRET}');
  const ok = loadConfigText(text, 'f.yaml', { CLIENT_SECRET: 'from-env' });
  assert.ok(ok.ok);
  assert.equal(ok.config.idp.clientSecret, 'from-env');
  const errs = errors(text);
  assert.ok(errs.some((e) => e === `f.yaml:${lineOf(text, 'CLIENT_SECRET')}:17: environment variable CLIENT_SECRET is not set`), errs.join('\n'));
  const warned = loadConfigText(text, 'f.yaml', {}, { missingEnv: 'warn' });
  assert.ok(warned.ok);
  assert.match(formatIssue(warned.warnings[0]), /warning: environment variable CLIENT_SECRET is not set/);
  const literal = loadConfigText(base().replace('clientSecret: s3cret', () => 'clientSecret: "a$${NOT_A_VAR}"'), 'f.yaml');
  assert.ok(literal.ok);
  assert.equal(literal.config.idp.clientSecret, 'a${NOT_A_VAR}');
});

test('http publicUrl and issuer are accepted only with idp.allowInsecureHttp', () => {
  const text = base().replace('publicUrl: https://', 'publicUrl: http://').replace('issuer: https://', 'issuer: http://').replace('  clientSecret: s3cret', '  clientSecret: s3cret\n  allowInsecureHttp: true');
  assert.ok(loadConfigText(text, 'f.yaml').ok);
});

test('an https publicUrl on a plain-HTTP listener is an error at publicUrl, unless tls serves it or a trusted proxy in front terminates TLS', () => {
  const plain = base().replace('tls: { certFile: tls.crt, keyFile: tls.key }\n', 'listen: ":8080"\n');
  assert.deepEqual(errors(plain), [
    `f.yaml:1:12: publicUrl is https:// but the listener (listen ":8080") speaks plain HTTP and no proxy in front is trusted, so sign-in would send browsers to a port that does not answer TLS: add tls (certFile, keyFile) to serve HTTPS, or list the TLS-terminating proxy in front of Drawbridge in trustedProxies, or use an http:// publicUrl (development only, with idp.allowInsecureHttp)`,
  ]);
  // The default listener is plain HTTP too; an empty trustedProxies trusts nobody.
  assert.match(errors(plain.replace('listen: ":8080"\n', ''))[0]!, /^f\.yaml:1:12: publicUrl is https:\/\/ but the listener \(listen ":8080"\)/);
  assert.match(errors(plain.replace('listen: ":8080"\n', 'trustedProxies: []\n'))[0]!, /^f\.yaml:1:12: publicUrl is https:\/\//);
  for (const fine of [
    base(),
    plain.replace('listen: ":8080"\n', 'trustedProxies: [10.0.0.0/8]\n'),
    plain.replace('publicUrl: https://', 'publicUrl: http://').replace('  clientSecret: s3cret', '  clientSecret: s3cret\n  allowInsecureHttp: true'),
  ]) {
    const r = loadConfigText(fine, 'f.yaml');
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  }
});

test('the example configurations are valid', () => {
  for (const file of ['config/example.yaml', 'config/demo.yaml']) {
    // The demo's grant ends relative to its start: `npm run demo` sets DEMO_GRANT_UNTIL (e2e/demo-env.ts).
    const r = loadConfigText(readFileSync(file, 'utf8'), file, { DEMO_GRANT_UNTIL: '2030-01-01T00:00:00Z' }, { missingEnv: 'warn' });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  }
});

test('idp claim keys: defaults (userinfo auto, email unverified unless assumed, RFC 8176 mfa with mfaAcrValues as acr), and what they compile to', async () => {
  const { compileConfig } = await import('../routes/compile.js');
  const withIdp = (lines: string) => base().replace('  clientSecret: s3cret\n', `  clientSecret: s3cret\n${lines}`);
  const plain = loadConfigText(withIdp('  mfaAcrValues: [urn:example:mfa]\n'), 'f.yaml');
  assert.ok(plain.ok, plain.ok ? '' : plain.errors.map(formatIssue).join('\n'));
  assert.equal(plain.config.idp.userinfo, 'auto');
  assert.equal(plain.config.idp.assumeEmailVerified, false);
  assert.deepEqual(plain.config.idp.claims, { user: 'preferred_username', groups: 'groups', email: 'email', name: 'name' });
  const mfa = compileConfig(plain.config).mfa;
  assert.ok(mfa.amr.includes('otp') && mfa.amr.includes('hwk') && !mfa.amr.includes('pwd'));
  assert.deepEqual(mfa.acr, ['urn:example:mfa'], 'acr defaults to mfaAcrValues');

  const custom = loadConfigText(withIdp('  claims: { groups: realm_access.roles, groupsDelimiter: "," }\n  userinfo: always\n  mfa: { amr: [webauthn], acr: [] }\n'), 'f.yaml');
  assert.ok(custom.ok, custom.ok ? '' : custom.errors.map(formatIssue).join('\n'));
  assert.equal(custom.config.idp.claims.groups, 'realm_access.roles');
  assert.equal(custom.config.idp.claims.user, 'preferred_username');
  assert.deepEqual(compileConfig(custom.config).mfa, { amr: ['webauthn'], acr: [] });

  // A mapping under which no sign-in could ever count as multi-factor is an error, at its line.
  const none = withIdp('  mfa: { amr: [] }\n');
  const [error] = errors(none);
  assert.match(error!, new RegExp(`^f\\.yaml:${lineOf(none, 'mfa:')}:\\d+: .*no \`mfa\` rule could ever pass`));
  assert.match(errors(withIdp('  userinfo: sometimes\n'))[0]!, /userinfo/);
  assert.match(errors(withIdp('  claims: { groupsDelimiter: "" }\n'))[0]!, /groupsDelimiter/);
});

test('client authentication: each method needs its credential; a key file only with private_key_jwt', () => {
  const withIdp = (lines: string) => base().replace('  clientSecret: s3cret\n', lines);
  // Every combination Drawbridge runs with.
  for (const ok of [
    '  clientSecret: s3cret\n',
    '  clientSecret: s3cret\n  tokenEndpointAuthMethod: client_secret_basic\n',
    '  clientSecret: s3cret\n  tokenEndpointAuthMethod: client_secret_post\n',
    '  tokenEndpointAuthMethod: private_key_jwt\n  privateKeyFile: client-key.pem\n',
    '  clientSecret: s3cret\n  tokenEndpointAuthMethod: private_key_jwt\n  privateKeyFile: client-key.pem\n',
  ]) {
    const r = loadConfigText(withIdp(ok), 'f.yaml');
    assert.ok(r.ok, `${ok}: ${r.ok ? '' : r.errors.map(formatIssue).join('\n')}`);
  }
  const noSecret = withIdp('');
  assert.deepEqual(errors(noSecret), [`f.yaml:${lineOf(noSecret, 'idp:')}:1: idp.clientSecret is required (or set tokenEndpointAuthMethod: private_key_jwt and idp.privateKeyFile)`]);
  const postNoSecret = withIdp('  tokenEndpointAuthMethod: client_secret_post\n');
  assert.match(errors(postNoSecret)[0]!, new RegExp(`^f\\.yaml:${lineOf(postNoSecret, 'tokenEndpointAuthMethod')}:\\d+: idp\\.clientSecret is required with tokenEndpointAuthMethod client_secret_post`));
  const jwtNoKey = withIdp('  tokenEndpointAuthMethod: private_key_jwt\n');
  assert.match(errors(jwtNoKey)[0]!, new RegExp(`^f\\.yaml:${lineOf(jwtNoKey, 'tokenEndpointAuthMethod')}:\\d+: tokenEndpointAuthMethod private_key_jwt needs idp\\.privateKeyFile`));
  const keyNotUsed = withIdp('  clientSecret: s3cret\n  privateKeyFile: client-key.pem\n');
  assert.match(errors(keyNotUsed)[0]!, new RegExp(`^f\\.yaml:${lineOf(keyNotUsed, 'privateKeyFile')}:\\d+: idp\\.privateKeyFile is used only with tokenEndpointAuthMethod: private_key_jwt`));
  const unknown = withIdp('  clientSecret: s3cret\n  tokenEndpointAuthMethod: client_secret_jwt\n');
  assert.match(errors(unknown)[0]!, new RegExp(`^f\\.yaml:${lineOf(unknown, 'tokenEndpointAuthMethod')}:\\d+: .*client_secret_basic.*client_secret_post.*private_key_jwt`));
});
