// forward/strip.test.ts — stripClientHeaders on header objects as node parses them (lower-case names).
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { compileStripper, stripClientHeaders, type StripOptions } from './strip.js';

const stripper = compileStripper(['X-Forwarded-User', 'X-Forwarded-Email', 'X-Forwarded-Groups', 'X-Forwarded-Name', 'X-Remote-User', 'X-Drawbridge-Assertion']);
const untrusted: StripOptions = { trustedPeer: false, cookieBase: 'drawbridge', consumedBearer: false };

function strip(headers: IncomingHttpHeaders, opts: Partial<StripOptions> = {}): IncomingHttpHeaders {
  const req = { headers };
  stripClientHeaders(req, stripper, { ...untrusted, ...opts });
  return req.headers;
}

test('strip: identity, assertion, x-drawbridge-* and access-token headers go, with _ and - alike', () => {
  const h = strip({
    host: 'app.example.com',
    'x-forwarded-user': 'mallory, admin',
    'x_forwarded_user': 'mallory',
    'x-forwarded_email': 'm@evil.com',
    'x-remote-user': 'root',
    'x_remote_user': 'root',
    'x-drawbridge-assertion': 'forged',
    'x-drawbridge-anything': '1',
    'x_drawbridge_groups_truncated': '1',
    'x-forwarded-access-token': 'stolen',
    accept: 'text/html',
  });
  assert.deepEqual(h, { host: 'app.example.com', accept: 'text/html' });
});

test('strip: names given in any case are matched (compile lower-cases them)', () => {
  const s = compileStripper(['X-AUTH-USER']);
  const req = { headers: { 'x-auth-user': 'x', 'x_auth_user': 'y', other: 'z' } as IncomingHttpHeaders };
  stripClientHeaders(req, s, untrusted);
  assert.deepEqual(req.headers, { other: 'z' });
});

test('strip: untrusted peer loses X-Forwarded-*, Forwarded and X-Real-IP; a trusted peer keeps its chain but not Forwarded', () => {
  const sent = (): IncomingHttpHeaders => ({
    'x-forwarded-for': '1.2.3.4',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-port': '443',
    'x-forwarded-prefix': '/x',
    forwarded: 'for=1.2.3.4',
    'x-real-ip': '1.2.3.4',
    'x_forwarded_for': '5.6.7.8',
    'x-forwarded-user': 'mallory',
  });
  assert.deepEqual(strip(sent()), {});
  assert.deepEqual(strip(sent(), { trustedPeer: true }), {
    'x-forwarded-for': '1.2.3.4',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-port': '443',
    'x-forwarded-prefix': '/x',
    'x-real-ip': '1.2.3.4',
  });
});

test('strip: Drawbridge\'s cookies are removed under each name, every occurrence; other cookies stay in order', () => {
  assert.equal(strip({ cookie: 'a=1; drawbridge=s1; b=2; __Host-drawbridge=s2;c=3; drawbridge=s3' }).cookie, 'a=1; b=2; c=3');
  assert.equal('cookie' in strip({ cookie: 'drawbridge=s1; __Host-drawbridge=s2' }), false);
  // A cookie whose name merely contains the session cookie's name stays.
  assert.equal(strip({ cookie: 'mydrawbridge=1; drawbridge2=2' }).cookie, 'mydrawbridge=1; drawbridge2=2');
  assert.equal(strip({ cookie: 'x=1' }).cookie, 'x=1');
  // The whole namespace goes: sign-in attempt cookies (any `__Host-` case) never reach an upstream either.
  assert.equal(strip({ cookie: 'a=1; drawbridge-login-abcdefabcdef=b; __HOST-drawbridge-login-0123456789ab=c; drawbridge-x=d; b=2' }).cookie, 'a=1; b=2');
});

test('strip: Authorization goes only when Drawbridge consumed the bearer', () => {
  assert.equal(strip({ authorization: 'Bearer t' }, { consumedBearer: true }).authorization, undefined);
  assert.equal(strip({ authorization: 'Basic dTpw' }).authorization, 'Basic dTpw');
});

test('strip: Connection tokens delete the headers they name, except headers Drawbridge sets or reads', () => {
  const h = strip({
    connection: 'close, X-Custom, X-Forwarded-User, x-forwarded-for, X-Request-Id, content-length, transfer-encoding, host, cookie, authorization, x-drawbridge-assertion, x_remote_user',
    'x-custom': 'hop',
    'x-request-id': 'client-id',
    'content-length': '0',
    host: 'app.example.com',
    cookie: 'a=1',
    authorization: 'Basic x',
  });
  assert.deepEqual(h, { 'x-request-id': 'client-id', 'content-length': '0', host: 'app.example.com', cookie: 'a=1', authorization: 'Basic x' });
});

test('strip: keep-alive and close never reach the upstream; Keep-Alive, Proxy-Connection, Proxy-Authorization go', () => {
  assert.deepEqual(strip({ connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive', 'proxy-authorization': 'Basic x', a: '1' }), { a: '1' });
  assert.deepEqual(strip({ connection: 'Keep-Alive, Close', b: '2' }), { b: '2' });
});

test('strip: an upgrade keeps Connection: upgrade and Upgrade; a stray Upgrade goes', () => {
  assert.deepEqual(strip({ connection: 'keep-alive, Upgrade', upgrade: 'websocket' }), { connection: 'upgrade', upgrade: 'websocket' });
  assert.deepEqual(strip({ upgrade: 'h2c' }), {});
  assert.deepEqual(strip({ connection: 'upgrade' }), {});
});

test('strip: method-override headers go (the request line\'s method is the one authorized)', () => {
  assert.deepEqual(strip({ 'x-http-method-override': 'DELETE', 'x-http-method': 'PUT', 'x-method-override': 'PATCH', 'x_http_method_override': 'DELETE', a: '1' }), { a: '1' });
});

test('strip: URL-override headers go on every route (the request line\'s path is the one authorized)', () => {
  const sent = (): IncomingHttpHeaders => ({
    'x-original-url': '/admin',
    'x-rewrite-url': '/admin',
    'x-original-uri': '/admin',
    'x-override-url': '/admin',
    'x_original_url': '/admin',
    a: '1',
  });
  assert.deepEqual(strip(sent()), { a: '1' });
  assert.deepEqual(strip(sent(), { trustedPeer: true }), { a: '1' }, 'from a trusted proxy too');
});

test('strip: a route keeps only the override headers it lists, never hop-by-hop or Forwarded, never a `_` spelling', () => {
  const sent = (): IncomingHttpHeaders => ({
    'x-original-url': '/admin',
    'x-rewrite-url': '/other',
    'x-http-method-override': 'DELETE',
    'x_original_url': '/x',
    forwarded: 'for=1.2.3.4',
    'proxy-authorization': 'Basic x',
    'x-forwarded-user': 'mallory',
  });
  assert.deepEqual(strip(sent(), { keep: new Set(['x-original-url']) }), { 'x-original-url': '/admin' });
  assert.deepEqual(strip(sent(), { keep: new Set(['x-http-method-override', 'x-rewrite-url']) }), { 'x-rewrite-url': '/other', 'x-http-method-override': 'DELETE' });
  // A name outside the override set (the schema refuses it; a hand-made set) is ignored.
  assert.deepEqual(strip(sent(), { keep: new Set(['forwarded', 'proxy-authorization', 'x-forwarded-user']) }), {});
  // Named in Connection by the client: removed like any header it names.
  assert.deepEqual(strip({ ...sent(), connection: 'x-original-url' }, { keep: new Set(['x-original-url']) }), {});
});

test('strip: every name containing `_` goes, whatever it spells (SPEC §3 step 1: this is the one place it happens)', () => {
  assert.deepEqual(
    strip({
      host: 'example.com',
      'x-forwarded-user': 'mallory',
      x_forwarded_user: 'alice',
      'x-drawbridge_assertion': 'forged',
      _: 'x',
      my_app_header: 'innocent-looking',
      'x-original_url': '/admin',
      'user-agent': 'test',
    }, { trustedPeer: true, keep: new Set(['x-original-url']) }),
    { host: 'example.com', 'user-agent': 'test' },
  );
  // On a null-prototype object, as node's req.headers is.
  const headers = Object.assign(Object.create(null) as IncomingHttpHeaders, { a_b: '1', c: '2' });
  assert.deepEqual({ ...strip(headers) }, { c: '2' });
});
