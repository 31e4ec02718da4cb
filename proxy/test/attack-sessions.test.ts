// proxy/test/attack-sessions.test.ts — attacks on sessions and on the sign-in callback (SPEC §4): forged, truncated,
// re-MACed, non-canonical and expired session cookies, a cookie from another deployment, CSRF on sign-out, and the
// callback fed a replayed or mismatched state and code, a code from another browser, or another issuer (`iss`
// mix-up). Each is refused, no session is made, and the protected upstream never hears of it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { parseForms, type CookieJarClient } from '../../e2e/support/http-client.js';
import { newSessionId, sealSessionId } from '../src/session/cookie.js';
import { deriveKeys } from '../src/session/keys.js';
import { head, marker, sendRaw } from '../../test-support/raw.js';
import { movableClock, SESSION_SECRET, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

const clock = movableClock();
let s: Stack;
let alice: string;
let aliceId: string;

before(async () => {
  s = await startStack({ now: clock.now, session: 'idleTimeout: 10m\nmaxLifetime: 1h' });
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  alice = sessionCookie(b, s.url('app.localhost'))!;
  assert.ok(alice);
  aliceId = Buffer.from(alice.split('.')[0]!, 'base64url').toString('hex');
});

after(async () => {
  await s?.close();
});

/** A GET of the protected route with `cookie` as the whole Cookie header; the status and whether the upstream saw it. */
/** The origin the probes address (the cookie's MAC covers it). */
function appOrigin(): string {
  return new URL(s.url('app.localhost')).origin;
}

async function probe(stack: Stack, cookieHeader: string | undefined, host = 'app.localhost'): Promise<{ status: number; reached: boolean; user?: string }> {
  const m = marker('sess');
  const ex = await sendRaw(stack.port, head(`GET /echo?${m} HTTP/1.1`, `Host: ${host}:${stack.port}`, 'Accept: application/json', ...(cookieHeader !== undefined ? [`Cookie: ${cookieHeader}`] : []), 'Connection: close'));
  const seen = stack.app.requests.filter((r) => r.url.includes(m));
  return { status: ex.first.status, reached: seen.length > 0, ...(seen[0] ? { user: String(seen[0].headers['x-forwarded-user']) } : {}) };
}

/** Refused as anonymous: 401, and the upstream never saw the request. */
async function assertAnonymous(stack: Stack, cookieHeader: string | undefined, what: string): Promise<void> {
  const r = await probe(stack, cookieHeader);
  assert.equal(r.status, 401, `${what}: status`);
  assert.equal(r.reached, false, `${what}: the upstream was not contacted`);
}

describe('session cookies that are not what Drawbridge issued', () => {
  test('control: the real cookie works', { timeout: 15_000 }, async () => {
    const r = await probe(s, `drawbridge=${alice}`);
    assert.equal(r.status, 200);
    assert.equal(r.user, 'alice');
  });

  test('forged and malformed values', { timeout: 30_000 }, async () => {
    const [idPart, macPart] = alice.split('.') as [string, string];
    const random = () => Buffer.from(newSessionId(), 'hex').toString('base64url');
    const forged = [
      `${random()}.${random()}`,
      `${idPart}.${random()}`,
      `${random()}.${macPart}`,
      `${macPart}.${idPart}`,
      '',
      '.',
      'a.b',
      idPart,
      `${idPart}.`,
      `.${macPart}`,
      `${idPart}.${macPart}.${macPart}`,
      `${idPart}..${macPart}`,
      `"${idPart}.${macPart}`,
      `${idPart}%2E${macPart}`,
      `${idPart.replaceAll('-', '+').replaceAll('_', '/')}.${macPart.replaceAll('-', '+').replaceAll('_', '/')}=`,
      `${idPart}=.${macPart}=`,
      `${idPart.toUpperCase()}.${macPart}`,
      `${aliceId}.${macPart}`,
      'x'.repeat(4000),
    ];
    for (const value of forged) {
      if (value === alice) continue;
      await assertAnonymous(s, `drawbridge=${value}`, `forged ${JSON.stringify(value.slice(0, 40))}`);
    }
  });

  test('truncated cookies', { timeout: 30_000 }, async () => {
    for (const n of [1, 2, 10, 43, 44, 60]) await assertAnonymous(s, `drawbridge=${alice.slice(0, -n)}`, `truncated by ${n}`);
    await assertAnonymous(s, `drawbridge=${alice.slice(1)}`, 'first character dropped');
  });

  test('one bit of the id or of the MAC changed', { timeout: 30_000 }, async () => {
    const flip = (text: string, at: number) => {
      const bytes = Buffer.from(text, 'base64url');
      bytes[at] = bytes[at]! ^ 1;
      return bytes.toString('base64url');
    };
    const [idPart, macPart] = alice.split('.') as [string, string];
    for (const at of [0, 15, 31]) {
      await assertAnonymous(s, `drawbridge=${flip(idPart, at)}.${macPart}`, `id byte ${at}`);
      await assertAnonymous(s, `drawbridge=${idPart}.${flip(macPart, at)}`, `mac byte ${at}`);
    }
  });

  test('a non-canonical base64url spelling of the real cookie', { timeout: 15_000 }, async () => {
    // 32 bytes in 43 characters leave two unused low bits in the last one: set them and the bytes stay the same.
    const [idPart, macPart] = alice.split('.') as [string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const bump = (t: string) => t.slice(0, -1) + alphabet[alphabet.indexOf(t.at(-1)!) | 1];
    assert.deepEqual(Buffer.from(bump(idPart), 'base64url'), Buffer.from(idPart, 'base64url'));
    if (bump(idPart) !== idPart) await assertAnonymous(s, `drawbridge=${bump(idPart)}.${macPart}`, 'non-canonical id');
    if (bump(macPart) !== macPart) await assertAnonymous(s, `drawbridge=${idPart}.${bump(macPart)}`, 'non-canonical mac');
  });

  test('the real session id re-MACed with another deployment’s secret', { timeout: 15_000 }, async () => {
    for (const secret of ['another-deployment-secret-0123456789abcdef0123', `${SESSION_SECRET}x`, SESSION_SECRET.toUpperCase()]) {
      const sealed = sealSessionId(aliceId, deriveKeys(secret).cookieMac, appOrigin());
      await assertAnonymous(s, `drawbridge=${sealed}`, `MAC with ${secret.slice(0, 12)}…`);
    }
    // The same id sealed with the key of another purpose derived from the right secret.
    const keys = deriveKeys(SESSION_SECRET);
    for (const key of [keys.csrf, keys.signOutReturn, keys.loginBinding, keys.storeEncryption]) {
      await assertAnonymous(s, `drawbridge=${sealSessionId(aliceId, key, appOrigin())}`, 'MAC with a key meant for something else');
    }
    // Control: sealed with the right key, the id is the session.
    assert.equal((await probe(s, `drawbridge=${sealSessionId(aliceId, keys.cookieMac, appOrigin())}`)).status, 200);
  });

  test('a valid cookie of another deployment (its own store) is no session here', { timeout: 60_000 }, async () => {
    const other = await startStack();
    try {
      const b = other.browser();
      await other.signIn(b, other.url('app.localhost', '/'), 'alice');
      const foreign = sessionCookie(b, other.url('app.localhost'))!;
      assert.equal((await probe(other, `drawbridge=${foreign}`)).status, 200, 'control: valid where it was issued');
      await assertAnonymous(s, `drawbridge=${foreign}`, 'the other deployment’s cookie');
      await assertAnonymous(other, `drawbridge=${alice}`, 'and ours there');
    } finally {
      await other.close();
    }
  });

  test('the cookie under the HTTPS name over HTTP, and a forged cookie placed first', { timeout: 15_000 }, async () => {
    await assertAnonymous(s, `__Host-drawbridge=${alice}`, '__Host- name over http');
    // The first of two same-named cookies is the one read: a planted one shadows the real one, never the reverse.
    const forged = `${alice.split('.')[0]}.${Buffer.alloc(32).toString('base64url')}`;
    await assertAnonymous(s, `drawbridge=${forged}; drawbridge=${alice}`, 'forged first');
    const r = await probe(s, `theme=dark; drawbridge=${alice}; drawbridge=forged`);
    assert.equal(r.status, 200, 'real first');
  });
});

describe('server-side expiry', () => {
  test('an idle session ends on the server, whatever the browser still sends', { timeout: 60_000 }, async () => {
    const b = s.browser();
    await s.signIn(b, s.url('app.localhost', '/'), 'alice');
    const cookie = sessionCookie(b, s.url('app.localhost'))!;
    assert.equal((await probe(s, `drawbridge=${cookie}`)).status, 200);
    clock.advance(11 * 60_000);
    await assertAnonymous(s, `drawbridge=${cookie}`, 'idle for 11 minutes');
  });

  test('an active session ends at its absolute lifetime', { timeout: 60_000 }, async () => {
    const b = s.browser();
    await s.signIn(b, s.url('app.localhost', '/'), 'alice');
    const cookie = sessionCookie(b, s.url('app.localhost'))!;
    for (let minutes = 0; minutes < 55; minutes += 5) {
      clock.advance(5 * 60_000);
      assert.equal((await probe(s, `drawbridge=${cookie}`)).status, 200, `still valid after ${minutes + 5} minutes of activity`);
    }
    clock.advance(6 * 60_000);
    await assertAnonymous(s, `drawbridge=${cookie}`, 'past maxLifetime');
  });
});

/** The CSRF token of the sign-out confirm page `client` gets on `host`. */
async function signOutToken(client: CookieJarClient, host: string): Promise<string> {
  const page = await client.get(`http://${host}:${s.port}/.drawbridge/sign_out`);
  const form = parseForms(page.body, page.url).find((f) => f.fields.csrf !== undefined);
  assert.ok(form, 'the confirm page has a form with a csrf field');
  return form.fields.csrf!;
}

describe('CSRF on sign-out', () => {
  test('a POST without the token, with a wrong one, with another session’s, or from another origin ends nothing', { timeout: 60_000 }, async () => {
    const a = s.browser();
    await s.signIn(a, s.url('app.localhost', '/'), 'alice');
    const cookie = sessionCookie(a, s.url('app.localhost'))!;
    const bob = s.browser();
    await s.signIn(bob, s.url('app.localhost', '/'), 'bob');
    const bobToken = await signOutToken(bob, 'app.localhost');
    const token = await signOutToken(a, 'app.localhost');
    assert.notEqual(token, bobToken);

    const attempts: [string, string, string[]][] = [
      ['no body', '', []],
      ['no token', 'rd=%2F', []],
      ['empty token', 'csrf=', []],
      ['wrong token', `csrf=${'A'.repeat(43)}`, []],
      ['bob’s token', `csrf=${bobToken}`, []],
      ['truncated token', `csrf=${token.slice(0, -1)}`, []],
      ['token twice, one wrong', `csrf=${'A'.repeat(43)}&csrf=${token}`, []],
      ['cross-site form, no token', 'rd=%2F', ['Origin: http://evil.example', 'Sec-Fetch-Site: cross-site', 'Referer: http://evil.example/']],
      ['cross-site form, bob’s token', `csrf=${bobToken}`, ['Origin: http://evil.example', 'Sec-Fetch-Site: cross-site']],
    ];
    for (const [what, body, extra] of attempts) {
      const ex = await sendRaw(
        s.port,
        head(
          'POST /.drawbridge/sign_out HTTP/1.1',
          `Host: app.localhost:${s.port}`,
          'Accept: text/html',
          `Cookie: drawbridge=${cookie}`,
          'Content-Type: application/x-www-form-urlencoded',
          `Content-Length: ${Buffer.byteLength(body)}`,
          ...extra,
          'Connection: close',
        ) + body,
      );
      assert.equal(ex.first.status, 403, `${what}: refused (${ex.first.status})`);
      assert.equal(ex.first.headers['set-cookie'], undefined, `${what}: the cookie is not cleared`);
      assert.equal((await probe(s, `drawbridge=${cookie}`)).status, 200, `${what}: the session is still there`);
    }
    // The token in the query instead of the body does not count either.
    const inQuery = await sendRaw(s.port, head(`POST /.drawbridge/sign_out?csrf=${token} HTTP/1.1`, `Host: app.localhost:${s.port}`, `Cookie: drawbridge=${cookie}`, 'Content-Length: 0', 'Connection: close'));
    assert.equal(inQuery.first.status, 403);
    // GET shows the confirm page and ends nothing.
    await signOutToken(a, 'app.localhost');
    assert.equal((await probe(s, `drawbridge=${cookie}`)).status, 200, 'GET sign_out ends nothing');
    // Control: the right token ends the session, on every host, and the cookie is dead afterwards.
    const done = await a.post(`http://app.localhost:${s.port}/.drawbridge/sign_out`, { form: { csrf: token }, redirect: 'manual' });
    assert.equal(done.status, 302);
    await assertAnonymous(s, `drawbridge=${cookie}`, 'after sign-out');
    const replay = await sendRaw(
      s.port,
      head('POST /.drawbridge/sign_out HTTP/1.1', `Host: app.localhost:${s.port}`, `Cookie: drawbridge=${cookie}`, 'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${token.length + 5}`, 'Connection: close') + `csrf=${token}`,
    );
    assert.notEqual(replay.first.status, 302, 'a replayed sign-out has no session to end');
  });
});

describe('the sign-in callback', () => {
  const callbackPrefix = () => `${s.publicUrl}/.drawbridge/callback`;

  /** Runs a sign-in up to the IdP's redirect to the callback; returns that callback URL (not yet visited). */
  async function toCallback(client: CookieJarClient, login = 'alice'): Promise<URL> {
    const r = await signInAtIdp(client, s.url('app.localhost', '/'), { login, stopAt: callbackPrefix(), headers: { accept: 'text/html' } });
    assert.ok(r.response.location?.startsWith(callbackPrefix()), `stopped at the callback: ${r.response.location}`);
    return new URL(r.response.location!);
  }

  /** The callback answer, and whether it made a session (a session cookie set). */
  async function visit(client: CookieJarClient, url: URL | string): Promise<{ status: number; session: boolean }> {
    const r = await client.get(url, { redirect: 'manual' });
    const set = ([] as string[]).concat(r.headers['set-cookie'] ?? []);
    return { status: r.status, session: set.some((c) => /^drawbridge=[^;]+/.test(c)) };
  }

  /** Asserts the refusal was logged as a failed sign-in. */
  function assertLoggedFailure(before: number): void {
    assert.ok(
      s.logs.slice(before).some((l) => l.event === 'sign-in' && l.result === 'failure'),
      'logged as a failed sign-in',
    );
  }

  test('a callback is good once: replaying it is refused', { timeout: 30_000 }, async () => {
    const b = s.browser();
    const url = await toCallback(b);
    assert.deepEqual(await visit(b, url), { status: 302, session: true });
    const logs = s.logs.length;
    assert.deepEqual(await visit(b, url), { status: 400, session: false });
    assertLoggedFailure(logs);
  });

  test('a callback URL used by another browser is refused (and burnt)', { timeout: 30_000 }, async () => {
    const victim = s.browser();
    const url = await toCallback(victim);
    const attacker = s.browser();
    const logs = s.logs.length;
    assert.deepEqual(await visit(attacker, url), { status: 400, session: false });
    assertLoggedFailure(logs);
    assert.equal((await visit(victim, url)).session, false, 'the attempt is one-time even when refused');
  });

  test('the state of one attempt with the code of another is refused; the other attempt still completes', { timeout: 30_000 }, async () => {
    const b = s.browser();
    // Attempt A: only its state (from the authorization URL).
    const startA = await b.get(s.url('app.localhost', '/'), { stopAt: (u) => u.origin === s.idp!.issuer });
    const stateA = new URL(startA.location!).searchParams.get('state')!;
    assert.ok(stateA);
    // Attempt B: completed at the IdP, stopped before the callback.
    const urlB = await toCallback(b);
    const mixed = new URL(urlB);
    mixed.searchParams.set('state', stateA);
    const logs = s.logs.length;
    assert.deepEqual(await visit(b, mixed), { status: 400, session: false }, 'code of B under state A');
    assertLoggedFailure(logs);
    assert.deepEqual(await visit(b, urlB), { status: 302, session: true }, 'B itself is intact');
  });

  test('another issuer in the callback (iss mix-up) is refused', { timeout: 30_000 }, async () => {
    for (const evil of ['http://evil.example', `${s.idp!.issuer}/`, `${s.idp!.issuer}.evil.example`]) {
      const b = s.browser();
      const url = await toCallback(b);
      const logs = s.logs.length;
      const replaced = new URL(url);
      replaced.searchParams.set('iss', evil);
      assert.deepEqual(await visit(b, replaced), { status: 400, session: false }, `iss=${evil}`);
      assertLoggedFailure(logs);
    }
    const b = s.browser();
    const url = await toCallback(b);
    const doubled = new URL(url);
    doubled.searchParams.append('iss', 'http://evil.example');
    assert.deepEqual(await visit(b, doubled), { status: 400, session: false }, 'a second iss');
  });

  test('missing, unknown, oversized or repeated state; an error from the IdP', { timeout: 30_000 }, async () => {
    const b = s.browser();
    const url = await toCallback(b);
    const code = url.searchParams.get('code')!;
    const state = url.searchParams.get('state')!;
    for (const query of [`code=${code}`, `code=${code}&state=`, `code=${code}&state=${'x'.repeat(300)}`, `code=${code}&state=unknown-state`, `code=${code}&state=${state}x`]) {
      assert.deepEqual(await visit(b, `${callbackPrefix()}?${query}`), { status: 400, session: false }, query);
    }
    assert.deepEqual(await visit(b, `${callbackPrefix()}?state=${state}&error=access_denied&error_description=no`), { status: 403, session: false }, 'error=access_denied');
    // The attempt was consumed by the error: the real code cannot be used with it any more.
    assert.equal((await visit(b, url)).session, false);
  });

  test('no callback failure lets a request through to the upstream', { timeout: 15_000 }, async () => {
    const users = s.app.requests.map((r) => String(r.headers['x-forwarded-user'] ?? ''));
    assert.ok(users.every((u) => u === '' || u === 'alice' || u === 'bob'), JSON.stringify([...new Set(users)]));
  });
});
