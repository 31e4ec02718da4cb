// proxy/test/websocket.test.ts — WebSocket upgrades are authenticated and authorized like any request, BEFORE the
// upgrade is forwarded (SPEC §3 step 6): no session → 401, wrong person → 403, and the upstream never sees the
// upgrade; with a session the echo works and the upstream gets Drawbridge's identity, never the client's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { sessionCookie, startStack, type Stack } from './helpers/stack.js';

let s: Stack;
let alice: string;
let bob: string;

before(async () => {
  s = await startStack({
    routes: `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering]
  - name: public
    from: http://public.localhost:{{PORT}}
    to: {{APP}}
    public: true
  - name: nows
    from: http://nows.localhost:{{PORT}}
    to: {{APP}}
    websockets: false
    policy:
      allow:
        - authenticated: true
`,
  });
  for (const login of ['alice', 'bob']) {
    const b = s.browser();
    // bob is refused on app.localhost, but the sign-in still gives him a session on publicUrl and the route host.
    await s.signIn(b, s.url('app.localhost', '/'), login);
    const cookie = sessionCookie(b, s.url('app.localhost'));
    assert.ok(cookie, `${login} has a session cookie`);
    if (login === 'alice') alice = cookie;
    else bob = cookie;
  }
}, { timeout: 60_000 });

after(async () => {
  await s?.close();
});

type Outcome = { open: true; ws: WebSocket } | { open: false; status: number; body: string };

/** Opens a WebSocket to `host` on the proxy port with the given extra headers. */
function connect(host: string, path: string, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`, { headers: { host: `${host}:${s.port}`, ...headers }, handshakeTimeout: 5000 });
    ws.once('open', () => resolve({ open: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ open: false, status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    ws.once('error', (e) => reject(e));
  });
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
    ws.send(text);
  });
}

const upgrades = (marker: string) => s.app.requests.filter((r) => r.upgrade && r.url.includes(marker));

test('without a session: 401 before the upgrade, the upstream never sees it', { timeout: 20_000 }, async () => {
  const marker = `anon${Date.now()}`;
  const anon = await connect('app.localhost', `/ws?${marker}`);
  assert.equal(anon.open, false);
  assert.equal(anon.open === false && anon.status, 401);
  const tampered = await connect('app.localhost', `/ws?${marker}`, { cookie: `drawbridge=${alice.slice(0, -2)}AA` });
  assert.equal(tampered.open === false && tampered.status, 401);
  const spoofed = await connect('app.localhost', `/ws?${marker}`, { 'x-forwarded-user': 'alice', 'x-forwarded-groups': 'engineering' });
  assert.equal(spoofed.open === false && spoofed.status, 401);
  assert.equal(upgrades(marker).length, 0);
  assert.equal(s.app.requests.filter((r) => r.url.includes(marker)).length, 0);
});

test('with alice’s session: the upgrade is forwarded with her identity and the echo works', { timeout: 20_000 }, async () => {
  const marker = `alice${Date.now()}`;
  const res = await connect('app.localhost', `/ws?${marker}`, { cookie: `theme=dark; drawbridge=${alice}`, 'x-forwarded-user': 'SPOOF', 'X-Drawbridge-Assertion': 'SPOOF' });
  assert.ok(res.open, res.open ? '' : `status ${res.status}`);
  try {
    assert.equal(await echo(res.ws, 'hello through Drawbridge'), 'hello through Drawbridge');
    assert.equal(await echo(res.ws, 'twice'), 'twice');
  } finally {
    res.ws.close();
  }
  const [up] = upgrades(marker);
  assert.ok(up, 'the upstream received the upgrade');
  assert.equal(up.headers['x-forwarded-user'], 'alice');
  assert.equal(up.headers['x-forwarded-groups'], 'engineering');
  assert.match(String(up.headers['x-drawbridge-assertion']), /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.equal(up.headers.cookie, 'theme=dark', 'the session cookie is stripped from the upgrade');
  assert.ok(!JSON.stringify(up.rawHeaders).includes('SPOOF'));
  assert.equal(up.headers['x-forwarded-for'], '127.0.0.1');
});

test('bob is refused with 403 before the upgrade', { timeout: 20_000 }, async () => {
  const marker = `bob${Date.now()}`;
  const res = await connect('app.localhost', `/ws?${marker}`, { cookie: `drawbridge=${bob}` });
  assert.equal(res.open, false);
  assert.equal(res.open === false && res.status, 403);
  assert.equal(upgrades(marker).length, 0);
});

test('a public route forwards upgrades without identity; a route with websockets: false refuses them', { timeout: 20_000 }, async () => {
  const marker = `pub${Date.now()}`;
  const pub = await connect('public.localhost', `/ws?${marker}`, { 'x-forwarded-user': 'SPOOF' });
  assert.ok(pub.open);
  try {
    assert.equal(await echo(pub.ws, 'ping'), 'ping');
  } finally {
    pub.ws.close();
  }
  const [up] = upgrades(marker);
  assert.equal(up?.headers['x-forwarded-user'], undefined);
  assert.equal(up?.headers['x-drawbridge-assertion'], undefined);

  const off = `off${Date.now()}`;
  const refused = await connect('nows.localhost', `/ws?${off}`, { cookie: `drawbridge=${alice}` });
  assert.equal(refused.open, false);
  assert.equal(refused.open === false && refused.status, 403);
  assert.equal(upgrades(off).length, 0);
});
