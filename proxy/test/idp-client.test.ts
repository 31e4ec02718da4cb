// proxy/test/idp-client.test.ts — the IdP client personas over real sockets (issue 13): a client the IdP holds to
// client_secret_basic, a private_key_jwt client, draft back-channel logout tokens, an IdP signing ID tokens with HS256
// and the client secret; forged ID tokens (alg none, HMAC with a foreign secret, keys outside the JWKS) refused at the
// callback and at refresh; and what an operator sees when the IdP is misconfigured: the log line with URL, status,
// OAuth error and hint, the "an administrator must fix it" page, and /readyz following the IdP after start.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, SignJWT, type JWK } from 'jose';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { loadConfigText } from '../src/config/load.js';
import { startDrawbridge } from '../src/server/server.js';
import { CLIENT_SECRET, movableClock, received, signInStart, startStack, waitFor, type Stack } from '../../test-support/stack.js';

const HTML = { accept: 'text/html' };
const marker = (name: string) => `${name}${Date.now()}${Math.random().toString(36).slice(2, 6)}`;
/** The dev IdP's access tokens live 300 s; Drawbridge refreshes at 80 % of that. */
const PAST_REFRESH_POINT_MS = 250_000;

async function signedIn(s: Stack, login = 'alice'): Promise<CookieJarClient> {
  const b = s.browser();
  const m = marker('in');
  const { response } = await s.signIn(b, s.url('app.localhost', `/?${m}`), login);
  assert.equal(response.status, 200, `${login} signed in (got ${response.status}: ${response.body.slice(0, 300)})`);
  assert.equal(received(s.app, m)[0]?.headers['x-forwarded-user'], login);
  return b;
}

/** Requests the app with the browser's session: 200 while it lets the user in, 302 (to sign in) once it has ended. */
async function visit(s: Stack, b: CookieJarClient): Promise<{ status: number; user?: string | string[] }> {
  const m = marker('v');
  const res = await b.get(s.url('app.localhost', `/?${m}`), { headers: HTML, redirect: 'manual' });
  return { status: res.status, user: received(s.app, m)[0]?.headers['x-forwarded-user'] };
}

function logsOf(s: Stack, event: string, from = 0): Record<string, any>[] {
  return s.logs.slice(from).filter((l) => l.event === event);
}

describe('a client the IdP holds to client_secret_basic (the OIDC default)', () => {
  let s: Stack;
  const clock = movableClock();
  before(async () => {
    s = await startStack({ client: { tokenEndpointAuthMethod: 'client_secret_basic' }, now: clock.now });
  });
  after(async () => {
    await s?.close();
  });

  test('signs in and refreshes: Drawbridge picks client_secret_basic from the discovery document by default', { timeout: 30_000 }, async () => {
    assert.equal(logsOf(s, 'idp-discovery').find((l) => l.result === 'success')?.tokenEndpointAuthMethod, 'client_secret_basic');
    const b = await signedIn(s);
    s.idp!.updateAccount('alice', { name: 'Alice Refreshed' });
    clock.advance(PAST_REFRESH_POINT_MS);
    const mark = s.logs.length;
    const after = await visit(s, b);
    assert.equal(after.status, 200);
    assert.equal(logsOf(s, 'refresh', mark).at(-1)?.result, 'success', 'the refresh authenticated with client_secret_basic');
    assert.equal(logsOf(s, 'idp-token-error', mark).length, 0);
    s.idp!.updateAccount('alice', { name: 'Alice' });
  });
});

describe('the wrong client authentication method, a wrong secret: an administrator must fix it, the log says what', () => {
  test('client_secret_post against a basic-only client: 502 "not set up correctly", idp-token-error unauthorized_client with a hint', { timeout: 60_000 }, async () => {
    const s = await startStack({ client: { tokenEndpointAuthMethod: 'client_secret_basic' }, idp: 'tokenEndpointAuthMethod: client_secret_post' });
    try {
      const b = s.browser();
      const { response } = await s.signIn(b, s.url('app.localhost', '/'), 'alice');
      assert.equal(response.status, 502, response.body.slice(0, 300));
      assert.match(response.body, /not set up correctly/);
      assert.match(response.body, /administrator must fix/);
      assert.doesNotMatch(response.body, /Starting again usually fixes it|try again in/i);
      assert.equal(response.headers['retry-after'], undefined, 'no Retry-After: waiting does not fix it');
      const line = logsOf(s, 'idp-token-error').at(-1);
      assert.ok(line, 'an idp-token-error line');
      assert.equal(line.level, 'error');
      assert.equal(line.grant, 'authorization_code');
      assert.equal(line.url, `${s.idp!.issuer}/token`);
      assert.equal(line.status, 401);
      assert.equal(line.error, 'unauthorized_client');
      assert.match(line.errorDescription, /client_secret_post is not allowed/);
      assert.match(line.hint, /idp\.tokenEndpointAuthMethod/);
      assert.equal(line.tokenEndpointAuthMethod, 'client_secret_post');
      assert.equal(line.requestId, response.headers['x-request-id']);
      assert.equal(s.logs.find((l) => l.event === 'request' && l.requestId === line.requestId)?.decision, 'idp-misconfigured');
      assert.equal((await s.db.store.list()).length, 0, 'no session');
    } finally {
      await s.close();
    }
  });

  test('a wrong client secret: the same page; idp-token-error status=401 error=invalid_client hint names idp.clientSecret', { timeout: 60_000 }, async () => {
    const s = await startStack({ client: { clientSecret: 'not-the-secret-drawbridge-has-0123456789abcdef' } });
    try {
      const { response } = await s.signIn(s.browser(), s.url('app.localhost', '/'), 'alice');
      assert.equal(response.status, 502);
      assert.match(response.body, /not set up correctly/);
      const line = logsOf(s, 'idp-token-error').at(-1)!;
      assert.deepEqual([line.status, line.error, line.url], [401, 'invalid_client', `${s.idp!.issuer}/token`]);
      assert.match(line.hint, /check idp\.clientSecret and idp\.tokenEndpointAuthMethod/);
      // An API client at the callback gets JSON.
      const api = s.api();
      const start = await api.get(`${s.publicUrl}/.drawbridge/sign_in?rd=${encodeURIComponent(`${s.publicUrl}/`)}`, { redirect: 'manual', headers: { accept: 'text/html' } });
      const { response: json } = await s.signIn(api, start.location!, 'alice');
      assert.equal(json.status, 502);
    } finally {
      await s.close();
    }
  });

  test('the authorization endpoint refusing the client (error=unauthorized_client) is a misconfiguration; temporarily_unavailable an outage; access_denied the user\u2019s', { timeout: 60_000 }, async () => {
    const s = await startStack();
    try {
      for (const [error, status] of [
        ['unauthorized_client', 502],
        ['invalid_scope', 502],
        ['temporarily_unavailable', 503],
        ['access_denied', 403],
      ] as const) {
        const b = s.browser();
        const start = await b.get(signInStart(s.url('app.localhost', '/')), { redirect: 'manual', headers: HTML });
        const toIdp = await b.get(start.location!, { redirect: 'manual', headers: HTML });
        const state = new URL(toIdp.location!).searchParams.get('state')!;
        const mark = s.logs.length;
        const res = await b.get(`${s.publicUrl}/.drawbridge/callback?error=${error}&error_description=from+the+IdP&state=${encodeURIComponent(state)}`, { headers: HTML, redirect: 'manual' });
        assert.equal(res.status, status, error);
        if (status === 502) assert.match(res.body, /not set up correctly/, error);
        if (status === 503) assert.equal(res.headers['retry-after'], '10', error);
        const line = logsOf(s, 'idp-authorization-error', mark)[0];
        assert.equal(line?.error, error);
        assert.equal(line?.errorDescription, 'from the IdP');
        assert.equal(line?.url, `${s.idp!.issuer}/auth`);
        assert.ok(line?.hint, error);
      }
    } finally {
      await s.close();
    }
  });
});

describe('a private_key_jwt client (no client secret)', () => {
  let s: Stack;
  const clock = movableClock();
  before(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(jwk);
    const dir = mkdtempSync(join(tmpdir(), 'drawbridge-pkjwt-'));
    const keyFile = join(dir, 'client-key.pem');
    // PKCS#1, as `openssl genrsa` writes it.
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    s = await startStack({
      now: clock.now,
      noClientSecret: true,
      idp: `tokenEndpointAuthMethod: private_key_jwt\nprivateKeyFile: ${keyFile}`,
      client: { clientSecret: undefined, tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] } },
    });
  });
  after(async () => {
    await s?.close();
  });

  test('signs in and refreshes with client assertions signed by idp.privateKeyFile', { timeout: 30_000 }, async () => {
    assert.equal(s.db.runtime.snapshot().compiled.config.idp.clientSecret, undefined);
    assert.equal(logsOf(s, 'idp-discovery').find((l) => l.result === 'success')?.tokenEndpointAuthMethod, 'private_key_jwt');
    const b = await signedIn(s);
    clock.advance(PAST_REFRESH_POINT_MS);
    const mark = s.logs.length;
    assert.equal((await visit(s, b)).status, 200);
    assert.equal(logsOf(s, 'refresh', mark).at(-1)?.result, 'success');
  });
});

describe('draft back-channel logout tokens (typ JWT, no exp)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ idpOptions: { draftLogoutTokens: true } });
  });
  after(async () => {
    await s?.close();
  });

  test('the IdP\u2019s draft logout token ends the session; replayed, it ends nothing', { timeout: 30_000 }, async () => {
    const b = await signedIn(s);
    assert.deepEqual(await s.idp!.backchannelLogout('alice'), [200]);
    const token = s.idp!.logoutTokensSent.at(-1)!;
    assert.equal(decodeProtectedHeader(token).typ, 'JWT', 'a draft-style token');
    assert.equal(decodeJwt(token).exp, undefined, 'without exp');
    assert.equal((await visit(s, b)).status, 302, 'the session ended');
    const fresh = await signedIn(s);
    const replay = await fetch(`http://127.0.0.1:${s.port}/.drawbridge/backchannel_logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: token }) });
    assert.equal(replay.status, 400);
    assert.match((await replay.json()).error_description, /replay/);
    assert.equal((await visit(s, fresh)).status, 200, 'the new session survives the replay');
  });
});

describe('an IdP that signs ID tokens with HS256 and the client secret (OIDC Core \u00a710.1)', () => {
  let s: Stack;
  const clock = movableClock();
  before(async () => {
    s = await startStack({ now: clock.now, idpOptions: { idTokenSigningAlgs: ['HS256', 'RS256', 'ES256'] }, client: { idTokenSignedResponseAlg: 'HS256' } });
  });
  after(async () => {
    await s?.close();
  });

  test('is accepted at sign-in and refresh: the one HMAC key both sides know', { timeout: 30_000 }, async () => {
    const b = await signedIn(s);
    const [record] = await s.db.store.list({ user: 'alice' });
    assert.equal(decodeProtectedHeader(record!.tokens.idToken!).alg, 'HS256');
    clock.advance(PAST_REFRESH_POINT_MS);
    const mark = s.logs.length;
    assert.equal((await visit(s, b)).status, 200);
    assert.equal(logsOf(s, 'refresh', mark).at(-1)?.result, 'success');
  });
});

describe('forged ID tokens from the token endpoint', () => {
  let s: Stack;
  const clock = movableClock();
  /** How the token endpoint's ID token is replaced, per grant; undefined: passed through. */
  let forge: ((idToken: string) => Promise<string>) | undefined;
  let forgeGrant = 'authorization_code';
  const foreignRsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const foreignEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const payloadOf = (idToken: string) => decodeJwt(idToken);
  const resign = (alg: string, key: Parameters<SignJWT['sign']>[0], kid?: string) => (idToken: string) =>
    new SignJWT(payloadOf(idToken)).setProtectedHeader({ alg, ...(kid ? { kid } : {}) }).sign(key);
  const unsigned = async (idToken: string) => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${idToken.split('.')[1]}.`;

  before(async () => {
    s = await startStack({
      now: clock.now,
      routes: `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { groups: [engineering] } ] }
  - name: recent
    from: http://recent.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { and: [ { groups: [engineering] }, { authAge: 1m } ] } ] }
`,
      idpOptions: {
        // A broken IdP that announces everything, so that only Drawbridge's own check stands in the way.
        discoveryDocument: (doc) => ({ ...doc, id_token_signing_alg_values_supported: ['RS256', 'ES256', 'HS256', 'none'] }),
        tokenResponse: async (body, { grantType }) => (forge && grantType === forgeGrant && typeof body.id_token === 'string' ? { ...body, id_token: await forge(body.id_token) } : body),
      },
    });
  });
  after(async () => {
    await s?.close();
  });

  const forgeries = () => {
    const rsaKid = s.idp!.jwks.keys.find((k) => k.alg === 'RS256')!.kid!;
    const ecKid = s.idp!.jwks.keys.find((k) => k.alg === 'ES256')!.kid!;
    return [
      ['alg none', unsigned, /unsigned/],
      ['HS256 with a secret Drawbridge does not know', resign('HS256', new TextEncoder().encode('attacker-secret-0123456789abcdef0123456789')), /does not verify with idp\.clientSecret/],
      ['RS256 with a key not in the JWKS', resign('RS256', foreignRsa, 'attacker-key'), /not in the IdP's JWKS/],
      ['RS256 with a foreign key under the IdP\u2019s kid', resign('RS256', foreignRsa, rsaKid), /signature does not verify/],
      ['ES256 with a foreign key under the IdP\u2019s kid', resign('ES256', foreignEc, ecKid), /signature does not verify/],
    ] as const;
  };

  test('refused at the callback: no session, the "could not be verified" page, idp-id-token-error with a hint', { timeout: 60_000 }, async () => {
    forgeGrant = 'authorization_code';
    for (const [what, how, why] of forgeries()) {
      forge = how;
      const mark = s.logs.length;
      const b = s.browser();
      const m = marker('forged');
      const { response } = await s.signIn(b, s.url('app.localhost', `/?${m}`), 'alice');
      forge = undefined;
      assert.equal(response.status, 400, `${what}: refused (got ${response.status})`);
      assert.match(response.body, /could not be verified/, what);
      assert.equal(received(s.app, m).length, 0, `${what}: the upstream was not contacted`);
      assert.equal((await s.db.store.list()).length, 0, `${what}: no session`);
      const line = logsOf(s, 'idp-id-token-error', mark)[0];
      assert.ok(line, `${what}: an idp-id-token-error line`);
      assert.equal(line.level, 'error');
      assert.equal(line.grant, 'authorization_code');
      assert.match(line.error, why, what);
      assert.equal(line.url, `${s.idp!.issuer}/jwks`);
      assert.ok(line.hint, what);
      assert.equal(logsOf(s, 'sign-in', mark).at(-1)?.result, 'failure', what);
    }
  });

  test('refused at a step-up callback too: the step-up fails, no stronger session is made', { timeout: 60_000 }, async () => {
    forgeGrant = 'authorization_code';
    const b = s.browser();
    const m = marker('recent');
    const url = s.url('recent.localhost', `/?${m}`);
    assert.equal((await s.signIn(b, url, 'alice')).response.status, 200);
    clock.advance(120_000);
    try {
      forge = resign('RS256', foreignRsa, 'attacker-key');
      const mark = s.logs.length;
      const { response } = await s.signIn(b, url, 'alice');
      assert.equal(response.status, 400, response.body.slice(0, 200));
      assert.match(response.body, /could not be verified/);
      assert.ok(logsOf(s, 'idp-id-token-error', mark).length === 1, 'the step-up callback checked the signature');
      assert.equal(logsOf(s, 'step-up', mark).filter((l) => l.result === 'success').length, 0);
      assert.equal(received(s.app, m).length, 1, 'only the request made while the sign-in was fresh reached the upstream');
    } finally {
      forge = undefined;
      clock.advance(-120_000);
      await s.db.store.deleteWhere({});
    }
  });

  test('the control: HS256 signed with the client secret passes (the discovery document announces HS256)', { timeout: 30_000 }, async () => {
    forgeGrant = 'authorization_code';
    forge = resign('HS256', new TextEncoder().encode(CLIENT_SECRET));
    try {
      await signedIn(s);
    } finally {
      forge = undefined;
    }
    await s.db.store.deleteWhere({});
  });

  test('refused at refresh: the session ends (fail closed), logged at error', { timeout: 60_000 }, async () => {
    forgeGrant = 'refresh_token';
    for (const [what, how, why] of forgeries()) {
      const b = await signedIn(s);
      assert.equal((await visit(s, b)).status, 200);
      forge = how;
      clock.advance(PAST_REFRESH_POINT_MS);
      const mark = s.logs.length;
      const res = await visit(s, b);
      forge = undefined;
      assert.equal(res.status, 302, `${what}: sent to sign in again`);
      assert.equal(res.user, undefined, `${what}: the upstream was not contacted`);
      assert.equal((await s.db.store.list()).length, 0, `${what}: the session was deleted`);
      const refresh = logsOf(s, 'refresh', mark).at(-1);
      assert.equal(refresh?.result, 'refused', what);
      assert.equal(refresh?.level, 'error', what);
      const line = logsOf(s, 'idp-id-token-error', mark)[0];
      assert.equal(line?.grant, 'refresh_token', what);
      assert.match(line?.error, why, what);
    }
  });
});

describe('a wrong issuer: the URL, the status, the issuer the IdP advertises; the page says an administrator must fix it', () => {
  test('an IdP announcing another issuer than idp.issuer (a realm path left out)', { timeout: 60_000 }, async () => {
    const s = await startStack({ idpOptions: { discoveryDocument: (doc) => ({ ...doc, issuer: `${String(doc.issuer)}/realms/main` }) }, waitForIdp: false });
    try {
      await waitFor(() => logsOf(s, 'idp-discovery').some((l) => l.result === 'failure'), 10_000);
      const line = logsOf(s, 'idp-discovery').find((l) => l.result === 'failure')!;
      const advertised = `${s.idp!.issuer}/realms/main`;
      assert.equal(line.level, 'error');
      assert.equal(line.url, `${s.idp!.issuer}/.well-known/openid-configuration`);
      assert.equal(line.advertisedIssuer, advertised);
      assert.match(line.error, /issuer mismatch/);
      assert.equal(line.hint, `set idp.issuer to exactly "${advertised}" (every character counts, a trailing slash too)`);
      const page = await s.browser().get(s.url('app.localhost', '/'));
      assert.equal(page.status, 502);
      assert.match(page.body, /not set up correctly/);
      assert.equal(page.headers['retry-after'], undefined);
      const api = await s.api().get(`${s.publicUrl}/.drawbridge/sign_in`);
      assert.deepEqual([api.status, api.json().error], [502, 'idp_misconfigured']);
      const ready = await fetch(`${s.db.adminUrl}/readyz`);
      assert.equal(ready.status, 503);
      const body = await ready.json();
      assert.equal(body.checks.idp, false);
      assert.equal(body.idp.url, line.url);
      assert.match(body.idp.hint, /set idp\.issuer/);
    } finally {
      await s.close();
    }
  });

  test('an issuer URL with no discovery document: the URL asked and the 404 are logged', { timeout: 60_000 }, async () => {
    const s = await startStack({ issuer: (real) => `${real}/realms/wrong`, waitForIdp: false });
    try {
      await waitFor(() => logsOf(s, 'idp-discovery').some((l) => l.result === 'failure'), 10_000);
      const line = logsOf(s, 'idp-discovery').find((l) => l.result === 'failure')!;
      assert.equal(line.url, `${s.idp!.issuer}/realms/wrong/.well-known/openid-configuration`);
      assert.equal(line.status, 404);
      assert.match(line.hint, /issuer identifier/);
      assert.equal((await s.browser().get(s.url('app.localhost', '/'))).status, 502);
    } finally {
      await s.close();
    }
  });
});

describe('/readyz follows the IdP after start', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ idpProbeIntervalMs: 200 });
  });
  after(async () => {
    await s?.close();
  });

  test('an IdP that stops answering turns /readyz 503 (with the URL and the error) within a probe interval; back, 200', { timeout: 60_000 }, async () => {
    const readyz = async () => {
      const res = await fetch(`${s.db.adminUrl}/readyz`);
      return { status: res.status, body: await res.json() };
    };
    assert.equal((await readyz()).status, 200);
    await s.stopIdp();
    await waitFor(async () => (await readyz()).status === 503, 20_000);
    const { body } = await readyz();
    assert.equal(body.checks.idp, false);
    assert.equal(body.idp.url, `${s.idp!.issuer}/.well-known/openid-configuration`);
    assert.match(body.idp.error, /ECONNREFUSED|fetch failed/);
    const down = logsOf(s, 'idp-probe').find((l) => l.result === 'failure');
    assert.ok(down, 'the probe logged the IdP going away');
    assert.equal(down.url, body.idp.url);
    await s.startIdp();
    await waitFor(async () => (await readyz()).status === 200, 20_000);
    assert.ok(logsOf(s, 'idp-probe').some((l) => l.result === 'success'), 'and coming back');
    // Logged on change only, not every interval.
    assert.equal(logsOf(s, 'idp-probe').filter((l) => l.result === 'failure').length, 1);
  });

  test('the probe can be run on demand: an IdP that does not answer is not ready, one that answers is', { timeout: 30_000 }, async () => {
    assert.equal(await s.db.runtime.oidc.probe(), true);
    await s.stopIdp();
    assert.equal(await s.db.runtime.oidc.probe(), false);
    assert.equal((await s.db.ready()).checks.idp, false);
    await s.startIdp();
    assert.equal(await s.db.runtime.oidc.probe(), true);
    assert.equal((await s.db.ready()).checks.idp, true);
  });
});

test('an unreadable idp.privateKeyFile stops the start with DRB_CONFIG_READ naming the file', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-badkey-'));
  const notAKey = join(dir, 'not-a-key.pem');
  writeFileSync(notAKey, 'hello');
  for (const file of [join(dir, 'missing.pem'), notAKey]) {
    const loaded = loadConfigText(
      `listen: "127.0.0.1:0"
publicUrl: http://auth.localhost:1
idp: { issuer: "http://127.0.0.1:1", clientId: c, tokenEndpointAuthMethod: private_key_jwt, privateKeyFile: "${file}", allowInsecureHttp: true }
session: { secret: test-session-secret-0123456789abcdef0123456789 }
routes: [ { name: a, from: "http://a.localhost:1", to: "http://127.0.0.1:1", public: true } ]
`,
      'f.yaml',
    );
    assert.ok(loaded.ok);
    await assert.rejects(startDrawbridge({ config: loaded.config, adminListen: false, logStream: new Writable({ write: (_c, _e, cb) => cb() }) }), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'DRB_CONFIG_READ');
      assert.ok((e as Error).message.startsWith(`reading idp.privateKeyFile ${file}: `), (e as Error).message);
      return true;
    });
  }
});
