// tls/http-challenge.test.ts — the port-80 listener's answers: a pending HTTP-01 token for its own host only,
// 308 to HTTPS for the hosts Drawbridge serves (path and query kept, method kept), nothing for any other host
// (no open redirect), 400 for targets that are no path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AcmeChallenges } from './acme-challenges.js';
import { httpChallengeAnswer, type HttpChallengeOptions } from './http-challenge.js';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';

function options(httpsPort = 443): HttpChallengeOptions {
  const challenges = new AcmeChallenges();
  challenges.setHttp('a.example.com', TOKEN, `${TOKEN}.thumbprint`);
  return { challenges, httpsPort, serves: (h) => h === 'a.example.com' || h.endsWith('.apps.example.com') };
}

test('a pending HTTP-01 token is answered with its key authorization, on its own host only', () => {
  const o = options();
  const ok = httpChallengeAnswer('GET', `/.well-known/acme-challenge/${TOKEN}`, 'a.example.com', o);
  assert.deepEqual([ok.status, ok.body], [200, `${TOKEN}.thumbprint`]);
  assert.equal(httpChallengeAnswer('GET', `/.well-known/acme-challenge/${TOKEN}`, 'A.Example.COM.:80', o).status, 200);
  assert.equal(httpChallengeAnswer('GET', `/.well-known/acme-challenge/${TOKEN}`, 'b.apps.example.com', o).status, 404);
  assert.equal(httpChallengeAnswer('GET', '/.well-known/acme-challenge/unknown-token-0123456789', 'a.example.com', o).status, 404);
  assert.equal(httpChallengeAnswer('POST', `/.well-known/acme-challenge/${TOKEN}`, 'a.example.com', o).status, 308, 'only GET and HEAD read a challenge');
  o.challenges.deleteHttp(TOKEN);
  assert.equal(httpChallengeAnswer('GET', `/.well-known/acme-challenge/${TOKEN}`, 'a.example.com', o).status, 404);
  assert.throws(() => o.challenges.setHttp('a.example.com', '../../etc/passwd', 'x'), /not base64url/);
});

test('every other request on a served host is a 308 to HTTPS with path and query; other hosts and non-paths get no redirect', () => {
  assert.deepEqual(httpChallengeAnswer('POST', '/x/y?z=1', 'a.example.com', options()).headers.location, 'https://a.example.com/x/y?z=1');
  const r = httpChallengeAnswer('GET', '/', 'b.apps.example.com:80', options(8443));
  assert.deepEqual([r.status, r.headers.location], [308, 'https://b.apps.example.com:8443/']);
  assert.equal(httpChallengeAnswer('GET', '/', 'evil.example.net', options()).status, 404);
  assert.equal(httpChallengeAnswer('GET', '/', 'apps.example.com', options()).status, 404);
  assert.equal(httpChallengeAnswer('GET', 'http://evil.example.net/', 'a.example.com', options()).status, 400);
  assert.equal(httpChallengeAnswer('GET', '//evil.example.net/', 'a.example.com', options()).status, 400);
  assert.equal(httpChallengeAnswer('GET', '/', 'a.example.com@evil.example.net', options()).status, 400);
  assert.equal(httpChallengeAnswer('GET', '/', undefined, options()).status, 400);
});
