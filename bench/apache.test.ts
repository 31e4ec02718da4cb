// bench/apache.test.ts — the bench's real peer on its own: Apache + mod_auth_openidc started from bench/apache.ts
// against a real dev IdP and the bench upstream, signed in through the real code flow; and a start that cannot
// succeed fails loudly with Apache's own error, never silently.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startDevIdp } from '../e2e/idp/dev-idp.js';
import { requestVia, reservePort } from '../test-support/net.js';
import { APACHE_REDIRECT_PATH, APACHE_SESSION_COOKIE, apacheConfig, signInThroughApache, startApache } from './apache.js';
import { startUpstream } from './upstream.js';

const CLIENT = { clientId: 'apache-test', clientSecret: 'apache-test-client-secret-0123456789' };

test('Apache + mod_auth_openidc: signed in once through the dev IdP, its session cookie reaches the upstream as the user, never as a cookie; no cookie, no access', { timeout: 60_000 }, async (t) => {
  const upstream = await startUpstream();
  t.after(() => {
    upstream.server.closeAllConnections();
    upstream.server.close();
  });
  const port = await reservePort();
  const origin = `http://apache.localhost:${port}`;
  const idp = await startDevIdp({ clients: [{ ...CLIENT, redirectUris: [`${origin}${APACHE_REDIRECT_PATH}`] }] });
  t.after(() => idp.close());
  const apache = await startApache(port, (dir) =>
    apacheConfig(dir, { port, origin, upstreamPort: (upstream.server.address() as AddressInfo).port, client: { issuer: idp.issuer, ...CLIENT }, processes: 1, threadsPerChild: 8, passphrase: 'apache-test-passphrase-0123456789abcdef' }),
  );
  t.after(() => apache.stop());

  const cookie = await signInThroughApache(origin, 'alice');
  assert.match(cookie, new RegExp(`^${APACHE_SESSION_COOKIE}=.+`));
  const host = `apache.localhost:${port}`;
  const seen = await requestVia(port, host, '/__whoami', { cookie: `${cookie}; other=1`, oidc_claim_preferred_username: 'mallory' });
  assert.equal(seen.status, 200);
  const body = JSON.parse(seen.body) as { user: string | null; cookie: string | null };
  assert.equal(body.user, 'alice', 'the claim header Apache passes, not the one the client sent');
  assert.equal(body.cookie, 'other=1', 'mod_auth_openidc strips its session cookie');
  assert.equal((await requestVia(port, host, '/', { cookie })).status, 200);
  // Without the cookie: a browser is sent to the IdP, anything else refused; the upstream is not reached either way.
  const anonymous = await requestVia(port, host, '/', { accept: 'text/html' });
  assert.equal(anonymous.status, 302);
  assert.ok(anonymous.headers.location?.startsWith(`${idp.issuer}/`), anonymous.headers.location);
  // bob is not in group engineering: `Require claim groups:engineering` refuses him after a successful sign-in.
  await assert.rejects(signInThroughApache(origin, 'bob'), /ended with 401|ended with 403/);
  assert.ok(apache.pids().length >= 2, `the mpm_event parent and its child: ${apache.pids().join(', ')}`);
});

test('startApache fails loudly with Apache\'s own error when the configuration is refused', { timeout: 30_000 }, async () => {
  const port = await reservePort();
  await assert.rejects(
    startApache(port, (dir) => `${apacheConfig(dir, { port, origin: `http://apache.localhost:${port}`, upstreamPort: 9, client: { issuer: 'http://127.0.0.1:9', ...CLIENT }, processes: 1, threadsPerChild: 8, passphrase: 'x'.repeat(40) })}NoSuchDirective on\n`),
    /Apache exited \(\d+\):.*NoSuchDirective/,
  );
});
