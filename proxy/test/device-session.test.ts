// test/device-session.test.ts — a session started with a device certificate never works without that certificate
// (docs/device-trust.md), end to end: a real sign-in through the dev IdP with the device certificate passed by a
// trusted TLS-terminating proxy (X-Forwarded-Client-Cert), then the same cookie without it or with another device's,
// on a route whose policy says nothing about devices.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { certDir, makeCa, makeDeviceCert, type TestCert } from '../../test-support/certs.js';
import { sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

const dir = certDir();
const ca = makeCa(dir, 'device-ca');
const laptop = makeDeviceCert(dir, ca, 'laptop', { subject: '/CN=laptop-42/O=Example', san: ['URI:urn:device:laptop-42'] });
const phone = makeDeviceCert(dir, ca, 'phone', { subject: '/CN=phone-7/O=Example', san: ['URI:urn:device:phone-7'] });
const hash = (cert: TestCert) => new X509Certificate(cert.pem).fingerprint256.replace(/:/g, '').toLowerCase();
/** What a TLS-terminating proxy (Envoy's format) writes for the certificate its client presented. */
const xfcc = (cert: TestCert) => `Hash=${hash(cert)};Cert="${encodeURIComponent(cert.pem)}"`;

let s: Stack;

before(async () => {
  s = await startStack({
    extra: `trustedProxies: [127.0.0.0/8]\nforwardedClientCert: { header: X-Forwarded-Client-Cert, caFile: ${ca.certFile} }`,
    routes: `routes:
  - { name: open, from: "http://open.localhost:{{PORT}}", to: "{{APP}}", policy: { allow: [ { authenticated: true } ] } }
`,
  });
}, { timeout: 60_000 });

after(async () => {
  await s?.close();
});

test('a session signed in with a device certificate is refused without it or with another device\'s, on a route without a device rule', { timeout: 60_000 }, async () => {
  const url = s.url('open.localhost', '/doc');
  const b = s.browser();
  const withLaptop = { 'x-forwarded-client-cert': xfcc(laptop) };
  const signedIn = await signInAtIdp(b, url, { login: 'alice', headers: { accept: 'text/html', ...withLaptop } });
  assert.equal(signedIn.response.status, 200, signedIn.response.body.slice(0, 200));
  assert.ok(sessionCookie(b, s.url('open.localhost')), 'signed in');

  const ok = await b.get(url, { headers: { accept: 'application/json', ...withLaptop } });
  assert.equal(ok.status, 200, ok.body.slice(0, 200));

  const seenBefore = s.app.requests.length;
  const replays: Record<string, Record<string, string>> = { 'no certificate': {}, 'another device': { 'x-forwarded-client-cert': xfcc(phone) } };
  for (const [what, headers] of Object.entries(replays)) {
    const res = await b.get(url, { headers: { accept: 'application/json', ...headers } });
    assert.equal(res.status, 403, what);
    assert.match(res.body, /session-device-required/, what);
  }
  assert.equal(s.app.requests.length, seenBefore, 'the refused requests never reached the upstream');

  // The binding is to the certificate, not to the first request: with it again, the session works.
  assert.equal((await b.get(url, { headers: { accept: 'application/json', ...withLaptop } })).status, 200);

  // A session signed in without a certificate needs none (the route asks for no device).
  const bob = s.browser();
  await signInAtIdp(bob, url, { login: 'bob', headers: { accept: 'text/html' } });
  assert.equal((await bob.get(url, { headers: { accept: 'application/json' } })).status, 200);
});
