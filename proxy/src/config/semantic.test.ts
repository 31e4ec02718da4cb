// config/semantic.test.ts — routes no request can reach are configuration errors, whatever the order, port or
// wildcard, pointed at the shadowed route's `regex` and naming the route that takes its requests; the near misses
// that some request still reaches are accepted, and the table then matches them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from './load.js';
import { formatIssue } from './locate.js';
import { compileConfig } from '../routes/compile.js';

function text(routes: string): string {
  return `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
${routes}`;
}

/** One route a line; `extra` is YAML flow-mapping content (`regex: "^/x"`, `methods: [GET]`). */
const route = (name: string, from: string, extra = '') => `  - { name: ${name}, from: "${from}", to: "http://10.0.0.1", public: true${extra ? `, ${extra}` : ''} }\n`;

/** The errors of a configuration, as validate prints them. */
function errors(routes: string): string[] {
  const r = loadConfigText(text(routes), 'f.yaml');
  return r.ok ? [] : r.errors.map(formatIssue);
}

/** Asserts exactly one error, at the `regex` of the route named `shadowed`, matching every pattern. */
function expectUnreachable(routes: string, shadowed: string, ...patterns: RegExp[]): void {
  const errs = errors(routes);
  assert.equal(errs.length, 1, `expected one error, got:\n${errs.join('\n')}`);
  const lines = text(routes).split('\n');
  const line = lines.findIndex((l) => l.includes(`name: ${shadowed},`)) + 1;
  const col = lines[line - 1]!.indexOf('regex:') + 'regex: '.length + 1;
  assert.ok(errs[0]!.startsWith(`f.yaml:${line}:${col}: this regex route can never match: `), errs[0]);
  for (const p of patterns) assert.match(errs[0]!, p);
}

/** Asserts the configuration is valid and each [host, port, path] is matched to the named route. */
function expectReached(routes: string, ...requests: Array<[string, number | undefined, string, string]>): void {
  const r = loadConfigText(text(routes), 'f.yaml');
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  const table = compileConfig(r.config).table;
  for (const [host, port, path, name] of requests) {
    const m = table.match(host, port, path, 'GET');
    assert.equal('status' in m ? String(m.status) : m.name, name, `${host}:${port} ${path}`);
  }
}

test('a regex route beside a catch-all prefix route on its host is an error in either order', () => {
  expectUnreachable(route('exports', 'https://a.example.com', 'regex: "^/exports/"') + route('site', 'https://a.example.com'), 'exports', /routes\[1\] "site" serves every path of a\.example\.com/, /prefix routes are tried before regex routes/);
  expectUnreachable(route('site', 'https://a.example.com') + route('exports', 'https://a.example.com', 'regex: "^/exports/"'), 'exports', /routes\[0\] "site" serves every path of a\.example\.com/);
  // Another scheme is the same host entry: the table does not split routes by scheme.
  expectUnreachable(route('exports', 'http://a.example.com', 'regex: "^/exports/"') + route('site', 'https://a.example.com'), 'exports', /routes\[1\] "site"/);
});

test('a regex route on host:8443 beside the port-less host\'s catch-all is an error (the port-specific entry inherits it)', () => {
  expectUnreachable(
    route('site', 'https://a.example.com') + route('exports', 'https://a.example.com:8443', 'regex: "^/exports/"'),
    'exports',
    /routes\[0\] "site" serves every path of a\.example\.com:8443/,
    /a route without a port serves its host on every port/,
  );
  expectUnreachable(route('exports', 'https://*.example.com:8443', 'regex: "^/exports/"') + route('site', 'https://*.example.com'), 'exports', /routes\[1\] "site" serves every path of \*\.example\.com:8443/);
  // A port-less regex route is shadowed only when every port has a catch-all: its own host's, or each port's own.
  expectUnreachable(
    route('site-8443', 'https://a.example.com:8443') + route('exports', 'https://a.example.com', 'regex: "^/exports/"') + route('site', 'https://a.example.com'),
    'exports',
    /routes\[0\] "site-8443" serves every path of a\.example\.com:8443; routes\[2\] "site" serves every path of a\.example\.com/,
  );
});

test('near misses some request still reaches are accepted: another port, another host, exact vs wildcard', () => {
  // The catch-all only on :8443: every other port reaches the regex route.
  expectReached(
    route('site-8443', 'https://a.example.com:8443') + route('exports', 'https://a.example.com', 'regex: "^/exports/"'),
    ['a.example.com', undefined, '/exports/1', 'exports'],
    ['a.example.com', 9000, '/exports/1', 'exports'],
    ['a.example.com', 8443, '/exports/1', 'site-8443'],
  );
  // An exact host's entry replaces the wildcard's (no inheritance), and other labels still reach the wildcard.
  expectReached(
    route('wild', 'https://*.example.com') + route('exports', 'https://a.example.com', 'regex: "^/exports/"'),
    ['a.example.com', undefined, '/exports/1', 'exports'],
    ['a.example.com', undefined, '/other', '404'],
    ['b.example.com', undefined, '/exports/1', 'wild'],
  );
  expectReached(route('exact', 'https://a.example.com') + route('wild-exports', 'https://*.example.com', 'regex: "^/exports/"'), ['b.example.com', undefined, '/exports/1', 'wild-exports'], ['a.example.com', undefined, '/exports/1', 'exact']);
});

test('methods never rescue a shadowed regex route: the chosen route answers 405, never the next route', () => {
  expectUnreachable(
    route('writes', 'https://a.example.com', 'regex: "^/api/", methods: [POST]') + route('reads', 'https://a.example.com', 'methods: [GET]'),
    'writes',
    /routes\[1\] "reads" serves every path/,
    /a method the chosen route does not accept gets 405, never the next route/,
  );
  expectUnreachable(
    route('reads', 'https://a.example.com', 'regex: "^/api/", methods: [GET]') + route('writes', 'https://a.example.com', 'regex: "^/api/", methods: [POST]'),
    'writes',
    /routes\[0\] "reads" comes earlier in the file and matches every path this one matches/,
    /regex routes are tried in file order/,
    /gets 405/,
  );
});

test('a regex route whose every match lies under a prefix route is an error; one with a path outside it is not', () => {
  expectUnreachable(route('csv', 'https://a.example.com', 'regex: "^/exports/[0-9]+\\\\.csv$"') + route('exports', 'https://a.example.com/exports'), 'csv', /starts with "\/exports\/", which routes\[1\] "exports" serves \(prefix \/exports\)/);
  expectUnreachable(route('admin', 'https://a.example.com/admin') + route('admin-page', 'https://a.example.com', 'regex: "^/admin$"'), 'admin-page', /the one path it matches, "\/admin", is served by routes\[0\] "admin"/);
  expectReached(
    route('exports', 'https://a.example.com/exports') + route('exports-csv', 'https://a.example.com', 'regex: "^/exports[0-9]+"'),
    ['a.example.com', undefined, '/exports2024', 'exports-csv'],
    ['a.example.com', undefined, '/exports/2024', 'exports'],
  );
});

test('a regex route an earlier regex route matches first is an error; in the other order both are reached', () => {
  expectUnreachable(route('api', 'https://a.example.com', 'regex: "^/api"') + route('api-v2', 'https://a.example.com', 'regex: "^/api/v2/[0-9]+$"'), 'api-v2', /routes\[0\] "api" comes earlier in the file/);
  expectUnreachable(route('all', 'https://a.example.com', 'regex: ".*"') + route('api', 'https://a.example.com', 'regex: "^/(api|rpc)/"'), 'api', /routes\[0\] "all"/);
  expectUnreachable(route('v2', 'https://a.example.com', 'regex: "^/v2/"') + route('v2-port', 'https://a.example.com:8443', 'regex: "^/v2/x"'), 'v2-port', /routes\[0\] "v2" comes earlier in the file .* on a\.example\.com:8443/);
  expectReached(
    route('api-v2', 'https://a.example.com', 'regex: "^/api/v2/[0-9]+$"') + route('api', 'https://a.example.com', 'regex: "^/api"'),
    ['a.example.com', undefined, '/api/v2/7', 'api-v2'],
    ['a.example.com', undefined, '/api/v1', 'api'],
  );
  // On :8443 the port-specific regex comes first in the file, so it is reached there.
  expectReached(route('v2-port', 'https://a.example.com:8443', 'regex: "^/v2/x"') + route('v2', 'https://a.example.com', 'regex: "^/v2/"'), ['a.example.com', 8443, '/v2/x', 'v2-port'], ['a.example.com', 8443, '/v2/y', 'v2']);
});

test('a regex route no normalized request path can match is an error', () => {
  expectUnreachable(route('r', 'https://a.example.com', 'regex: "^/a//b"'), 'r', /starts with "\/a\/\/b"; requests are normalized before matching, and "\/a\/\/b" is matched as "\/a\/b"/);
  expectUnreachable(route('r', 'https://a.example.com', 'regex: "^/%73ecret"'), 'r', /"\/%73ecret" is matched as "\/secret"/);
  expectUnreachable(route('r', 'https://a.example.com', 'regex: "^/caf%c3%a9$"'), 'r', /the one path it matches is "\/caf%c3%a9"; .* matched as "\/caf%C3%A9"/);
  expectUnreachable(route('r', 'https://a.example.com', 'regex: "^/x/\\\\./y"'), 'r', /"\/x\/\.\/y" is matched as "\/x\/y"/);
  expectUnreachable(route('r', 'https://a.example.com', 'regex: "^/a%2Fb"'), 'r', /a request for "\/a%2Fb" is refused \(encoded slash/);
  expectUnreachable(route('r', 'https://a.example.com', 'regex: "^admin"'), 'r', /is refused/);
  expectReached(route('r', 'https://a.example.com', 'regex: "^/caf%C3%A9$"'), ['a.example.com', undefined, '/caf%C3%A9', 'r']);
});

test('stripPrefix and rewrite: refused where they mean nothing or conflict, with a bad regex, group or prefix', () => {
  const at = (routes: string) => errors(routes).join('\n');
  assert.deepEqual(errors(route('a', 'https://a.example.com/static', 'stripPrefix: true')), []);
  assert.deepEqual(errors(route('a', 'https://a.example.com/api', 'rewrite: { prefix: /v2 }')), []);
  assert.deepEqual(errors(route('a', 'https://a.example.com', 'rewrite: { regex: "^/old/(.*)$", replace: "/new/$1" }')), []);
  assert.match(at(route('a', 'https://a.example.com', 'stripPrefix: true')), /stripPrefix does nothing on a route without a path prefix/);
  assert.match(at(route('a', 'https://a.example.com', 'regex: "^/x", stripPrefix: true')), /stripPrefix needs a path prefix/);
  assert.match(at(route('a', 'https://a.example.com/s', 'stripPrefix: true, rewrite: { prefix: /v2 }')), /stripPrefix and rewrite both change the path/);
  assert.match(at(route('a', 'https://a.example.com', 'regex: "^/x", rewrite: { prefix: /v2 }')), /a regex route has none/);
  for (const bad of ['v2', '/v2/', '/a//b', '/a/../b', '/a%2Fb', '/a?b']) {
    assert.match(at(route('a', 'https://a.example.com/s', `rewrite: { prefix: "${bad}" }`)), /rewrite.prefix must be a normalized path/, bad);
  }
  assert.match(at(route('a', 'https://a.example.com', 'rewrite: { regex: "^/(x", replace: "/$1" }')), /f\.yaml:\d+:\d+: invalid regex/);
  assert.match(at(route('a', 'https://a.example.com', 'rewrite: { regex: "^/(x)$", replace: "/$2" }')), /names capture group 2, but the regex has only 1/);
  assert.match(at(route('a', 'https://a.example.com', 'rewrite: { regex: "^/(x)$", replace: "/$<id>" }')), /names no capture group/);
  assert.match(at(route('a', 'https://a.example.com', 'rewrite: { regex: "^/(x)$", replace: "/$1?a=1" }')), /cannot hold "\?"/);
  assert.match(at(route('a', 'https://a.example.com', 'rewrite: { prefix: /v2, regex: "x", replace: "y" }')), /./);
});

test('setRequestHeaders placeholders and upstreamAuth.basic: unknown placeholders, framing headers and ":" in the user are errors', () => {
  const at = (routes: string) => errors(routes).join('\n');
  assert.deepEqual(errors(route('a', 'https://a.example.com', 'setRequestHeaders: { Remote-User: "{user}", X-Who: "{name} <{email}> {groups} {claim:dept} {{literal}" }')), []);
  assert.deepEqual(errors(route('a', 'https://a.example.com', 'upstreamAuth: { basic: { user: "{user}", passwordFile: /run/secrets/pw } }')), []);
  assert.match(at(route('a', 'https://a.example.com', 'setRequestHeaders: { Remote-User: "{usr}" }')), /setRequestHeaders.Remote-User: unknown placeholder \{usr\}/);
  assert.match(at(route('a', 'https://a.example.com', 'setRequestHeaders: { X-Json: "{\\"a\\":1}" }')), /unknown placeholder .*write \{\{ for a literal/);
  assert.match(at(route('a', 'https://a.example.com', 'setRequestHeaders: { X-A: "{user" }')), /unclosed "\{"/);
  assert.match(at(route('a', 'https://a.example.com', 'setRequestHeaders: { Authorization: "{user}" }')), /cannot carry identity placeholders \(use upstreamAuth.basic\)/);
  assert.match(at(route('a', 'https://a.example.com', 'setRequestHeaders: { Host: "{user}.internal" }')), /setRequestHeaders.Host cannot carry identity placeholders/);
  assert.match(at(route('a', 'https://a.example.com', 'setRequestHeaders: { Authorization: "Basic x" }, upstreamAuth: { basic: { user: u, passwordFile: f } }')), /upstreamAuth sets Authorization/);
  assert.match(at(route('a', 'https://a.example.com', 'upstreamAuth: { basic: { user: "corp:{user}", passwordFile: f } }')), /cannot contain ":" \(RFC 7617/);
  assert.match(at(route('a', 'https://a.example.com', 'upstreamAuth: { basic: { user: "{nope}", passwordFile: f } }')), /upstreamAuth.basic.user: unknown placeholder/);
});

test('device certificates: a CRL or clientCert: required without tls.clientCa, and forwardedClientCert without CAs or trusted proxies, are errors', () => {
  const device = (top: string, tls: string) => {
    const r = loadConfigText(
      `publicUrl: https://auth.example.com
${top}
tls: { certFile: c.pem, keyFile: k.pem${tls ? `, ${tls}` : ''} }
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - { name: a, from: "https://a.example.com", to: "http://10.0.0.1", public: true }
`,
      'f.yaml',
    );
    return r.ok ? [] : r.errors.map(formatIssue);
  };
  assert.deepEqual(device('', 'clientCa: ca.pem, clientCrl: ca.crl, clientCert: required'), []);
  assert.match(device('', 'clientCrl: ca.crl').join('\n'), /f\.yaml:3:\d+: tls\.clientCrl needs tls\.clientCa/);
  assert.match(device('', 'clientCert: required').join('\n'), /tls\.clientCert: required needs tls\.clientCa/);
  assert.match(device('trustedProxies: [10.0.0.0/8]\nforwardedClientCert: {}', '').join('\n'), /f\.yaml:3:1: forwardedClientCert needs caFile \(or tls\.clientCa\)/);
  assert.match(device('forwardedClientCert: { caFile: ca.pem }', '').join('\n'), /forwardedClientCert is read only from trustedProxies/);
  assert.deepEqual(device('trustedProxies: [10.0.0.0/8]\nforwardedClientCert: {}', 'clientCa: ca.pem'), []);
});

test('requests: validate refuses defaultDuration beyond maxDuration, an unknown approvers policy, approvers that allow nobody, and a public route', () => {
  const withRequests = (requests: string, extra = 'policy: { allow: [ { groups: [a] } ] }') => `  - name: wiki
    from: https://wiki.example.com
    to: http://10.0.0.1
    ${extra}
    requests: ${requests}
`;
  assert.deepEqual(errors(withRequests('{ approvers: { allow: [ { groups: [admins] } ] } }')), []);
  const ok = loadConfigText(text(withRequests('{ approvers: { allow: [ { groups: [admins] } ] }, maxDuration: 2h, defaultDuration: 30m, reason: optional }')), 'f.yaml');
  assert.ok(ok.ok);
  const r = compileConfig(ok.config).table.routes[0]!.requests!;
  assert.deepEqual([r.maxDurationMs, r.defaultDurationMs, r.reasonRequired], [7_200_000, 1_800_000, false]);
  assert.match(errors(withRequests('{ approvers: { allow: [ { groups: [admins] } ] }, maxDuration: 1h, defaultDuration: 2h }')).join('\n'), /defaultDuration \(2h\) is longer than requests.maxDuration \(1h\)/);
  assert.match(errors(withRequests('{ approvers: nobody }')).join('\n'), /f\.yaml:\d+:\d+: unknown policy "nobody"/);
  assert.match(errors(withRequests('{ approvers: { allow: [ { policy: nobody } ] } }')).join('\n'), /unknown policy "nobody"/);
  assert.match(errors(withRequests('{ approvers: { deny: [ { groups: [x] } ] } }')).join('\n'), /requests.approvers has no allow rule/);
  assert.match(errors(withRequests('{ approvers: { allow: [ { groups: [admins] } ] } }', 'public: true')).join('\n'), /a public route lets everyone in/);
  assert.match(errors(withRequests('{ approvers: { allow: [ { groups: [admins] } ] }, reason: maybe }')).join('\n'), /reason/);
});

test('requests: a named policy may declare them; routes using it by name inherit them; its block is validated too', () => {
  const cfg = (requests: string) => `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
policies:
  tools: { allow: [ { groups: [a] } ], requests: ${requests} }
routes:
  - { name: tools, from: "https://tools.example.com", to: "http://10.0.0.1", policy: tools }
  - { name: inline, from: "https://inline.example.com", to: "http://10.0.0.1", policy: { allow: [ { groups: [a] } ] } }
`;
  const ok = loadConfigText(cfg('{ approvers: { allow: [ { groups: [admins] } ] }, maxDuration: 2h }'), 'f.yaml');
  assert.ok(ok.ok, ok.ok ? '' : ok.errors.map(formatIssue).join('\n'));
  const routes = compileConfig(ok.config).table.routes;
  assert.equal(routes[0]!.requests?.maxDurationMs, 7_200_000, 'inherited from the named policy');
  assert.equal(routes[1]!.requests, undefined);
  const bad = loadConfigText(cfg('{ approvers: missing, maxDuration: 1h, defaultDuration: 2h }'), 'f.yaml');
  assert.ok(!bad.ok);
  const text = bad.errors.map(formatIssue).join('\n');
  assert.match(text, /requests.defaultDuration \(2h\) is longer/);
  assert.match(text, /unknown policy "missing"/);
});
