// config/acme-hosts.test.ts — which names tls.acme manages, and what validate says about the ones it cannot:
// wildcards (DNS-01 only), IP addresses, a file pair cut in half, no challenge left to answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acmeHosts } from './acme-hosts.js';
import { loadConfigText } from './load.js';
import { formatIssue } from './locate.js';

function errors(tls: string, routes = '  - { name: app, from: "https://app.example.com", to: "http://10.0.0.1", public: true }\n', publicUrl = 'https://auth.example.com'): string[] {
  const text = `publicUrl: ${publicUrl}
tls:
${tls}
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
${routes}`;
  const r = loadConfigText(text, 'f.yaml');
  return r.ok ? [] : r.errors.map(formatIssue);
}

test('hosts: auto is publicUrl\'s host and every exact https route host, sorted, IP addresses left out', () => {
  const config = {
    publicUrl: 'https://Auth.Example.com:8443',
    tls: { acme: { hosts: 'auto' } },
    routes: [{ from: 'https://wiki.example.com/x' }, { from: 'https://app.example.com' }, { from: 'https://10.0.0.7' }, { from: 'http://plain.example.com' }, { from: 'https://app.example.com/admin' }],
  };
  assert.deepEqual(acmeHosts(config), { hosts: ['app.example.com', 'auth.example.com', 'wiki.example.com'], problems: [] });
  assert.deepEqual(acmeHosts({ ...config, tls: undefined }).hosts, []);
});

test('validate: a wildcard route under hosts: auto is an error unless tls.certFile serves it', () => {
  const routes = '  - { name: all, from: "https://*.apps.example.com", to: "http://10.0.0.1", public: true }\n';
  const errs = errors('  acme: { email: ops@example.com }', routes);
  assert.equal(errs.length, 1, errs.join('\n'));
  assert.match(errs[0], /^f\.yaml:7:\d+: .*cannot obtain a certificate for \*\.apps\.example\.com: a CA issues wildcard certificates only through DNS-01/);
  assert.deepEqual(errors('  certFile: wild.pem\n  keyFile: wild.key\n  acme: { email: ops@example.com }', routes), []);
});

test('validate: a listed wildcard, IP address or URL is refused with its index', () => {
  const errs = errors('  acme: { email: ops@example.com, hosts: [ok.example.com, "*.example.com", 192.0.2.1, "https://x.example.com"] }');
  assert.equal(errs.length, 3, errs.join('\n'));
  assert.match(errs[0], /tls\.acme\.hosts: "\*\.example\.com" is a wildcard/);
  assert.match(errs[1], /"192\.0\.2\.1" is an IP address/);
  assert.match(errs[2], /"https:\/\/x\.example\.com" is not a host name/);
  assert.deepEqual(acmeHosts({ tls: { acme: { hosts: ['B.example.com', 'a.example.com', 'b.example.com'] } } }).hosts, ['a.example.com', 'b.example.com']);
});

test('validate: tls needs a whole file pair or acme; acme needs an https publicUrl and a challenge it can answer', () => {
  assert.match(errors('  certFile: a.pem').join('\n'), /tls\.certFile needs tls\.keyFile/);
  assert.match(errors('  keyFile: a.key').join('\n'), /tls\.keyFile needs tls\.certFile/);
  assert.match(errors('  {}').join('\n'), /tls needs certFile and keyFile, or acme/);
  assert.match(errors('  acme: { email: ops@example.com, httpListen: false, challenges: [http-01] }').join('\n'), /httpListen is false and tls-alpn-01 is not among tls\.acme\.challenges/);
  assert.match(errors('  acme: { email: ops@example.com }', undefined, 'http://auth.example.com').join('\n'), /tls\.acme serves HTTPS: publicUrl must be https:\/\//);
  assert.match(errors('  acme: { email: not-an-email }').join('\n'), /tls\.acme\.email.*expected an email address/);
  assert.deepEqual(errors('  acme: { email: ops@example.com, httpListen: false, challenges: [tls-alpn-01] }'), []);
});
