// test-support/worker-pins.ts — talking to one worker of a `workers: N` Drawbridge on purpose: every request's log
// line names its worker, so a keep-alive connection whose first request a worker served stays with that worker.
// Used by the workers tests (memory store, Redis store) to check what one worker sees of what another did.
import assert from 'node:assert/strict';
import http from 'node:http';
import { signInAtIdp } from '../e2e/idp/sign-in.js';
import { CookieJarClient, parseForms } from '../e2e/support/http-client.js';
import type { DrawbridgeProcess } from './process.js';
import { marker } from './raw.js';
import { CLIENT_ID, CLIENT_SECRET, SESSION_SECRET } from './stack.js';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A keep-alive connection (an agent of one socket) and the worker serving it. */
export interface Pin {
  agent: http.Agent;
  worker: number;
}

/** Requests to the Drawbridge `db` listening on 127.0.0.1:`port`, on connections pinned to its workers. */
export function workerPins(db: DrawbridgeProcess, port: number) {
  const pins: Pin[] = [];

  /** One request over `agent` (a pinned keep-alive connection) or a new connection. */
  function request(agent: http.Agent | false, host: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { host: `${host}:${port}`, accept: 'application/json', ...headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`GET ${host}${path}: no answer`)));
      req.on('error', reject);
    });
  }

  /** The worker whose request log line has `mark` in its path. */
  async function workerOf(mark: string): Promise<number> {
    const line = await db.line((l) => l.event === 'request' && String(l.path).includes(mark));
    assert.equal(typeof line.worker, 'number', 'every request line names its worker');
    return line.worker as number;
  }

  /** One keep-alive connection to each of two workers (new connections are dealt out among them, so a few suffice). */
  async function pinBoth(): Promise<[Pin, Pin]> {
    for (const p of pins.splice(0)) p.agent.destroy();
    const found = new Map<number, Pin>();
    for (let i = 0; i < 40 && found.size < 2; i++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const mark = marker('pin');
      assert.equal((await request(agent, 'public.localhost', `/${mark}`)).status, 200);
      const worker = await workerOf(mark);
      if (found.has(worker)) agent.destroy();
      else found.set(worker, { agent, worker });
    }
    assert.equal(found.size, 2, 'both workers serve connections');
    pins.push(...found.values());
    return [pins[0]!, pins[1]!];
  }

  /** GET on a pinned connection (a marker appended to the path), checking from the log that the pinned worker served it. */
  async function on(pin: Pin, host: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
    const mark = marker('on');
    const sep = path.includes('?') ? '&' : '?';
    const answer = await request(pin.agent, host, `${path}${path.endsWith('/') ? '' : '/'}${mark}${sep}x=1`.replace(/\/\//g, '/'), headers);
    assert.equal(await workerOf(mark), pin.worker, 'served by the pinned worker');
    return answer;
  }

  /** Signs `login` in through the dev IdP at app.localhost; the session cookie as a Cookie header. */
  async function signIn(login = 'alice'): Promise<{ client: CookieJarClient; cookie: string }> {
    const client = new CookieJarClient({ resolve: new Proxy({}, { get: () => '127.0.0.1' }) as Record<string, string>, headers: { accept: 'text/html' } });
    const url = `http://app.localhost:${port}/`;
    const result = await signInAtIdp(client, url, { login, headers: { accept: 'text/html' } });
    assert.equal(result.response.status, 200, `signed in: ${result.response.url}`);
    const value = client.cookies(url)['drawbridge'];
    assert.ok(value, 'a session cookie on the route host');
    return { client, cookie: `drawbridge=${value}` };
  }

  /** Signs out through the confirm page and its CSRF-checked POST (answered 302). */
  async function signOut(client: CookieJarClient): Promise<void> {
    const confirm = await client.get(`http://app.localhost:${port}/.drawbridge/sign_out?rd=/`);
    const csrf = parseForms(confirm.body, confirm.url).find((f) => 'csrf' in f.fields)?.fields.csrf;
    assert.ok(csrf, 'the confirm page carries the CSRF token');
    const posted = await client.post(`http://app.localhost:${port}/.drawbridge/sign_out`, { form: { csrf, rd: '/' }, redirect: 'manual' });
    assert.equal(posted.status, 302);
  }

  /** Closes the pinned connections. */
  function close(): void {
    for (const p of pins.splice(0)) p.agent.destroy();
  }

  return { request, workerOf, pinBoth, on, signIn, signOut, close };
}

/** The configuration of the workers tests: `workers: 2` on 127.0.0.1:`port`, the dev IdP, `store` (YAML flow), `routes` (YAML, already filled in). */
export function workersTestConfig(o: { port: number; issuer: string; store: string; routes: string }): string {
  return `listen: "127.0.0.1:${o.port}"
workers: 2
publicUrl: http://auth.localhost:${o.port}
admin: { listen: "127.0.0.1:0" }
idp:
  issuer: ${o.issuer}
  clientId: ${CLIENT_ID}
  clientSecret: ${CLIENT_SECRET}
  allowInsecureHttp: true
session:
  secret: ${SESSION_SECRET}
  store: ${o.store}
limits: { keepAliveTimeout: 300s }
log: { level: info, format: json }
routes:
${o.routes}`;
}
