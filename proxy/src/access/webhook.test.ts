// access/webhook.test.ts — the access-request webhook against a real HTTP receiver on loopback: signed bodies the
// receiver verifies, retries with backoff on 5xx/429/network errors, no retry on other answers, a bounded queue, and
// a signature check that refuses tampering, another key, replays and malformed headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createAccessWebhook,
  signAccessWebhook,
  verifyAccessWebhookSignature,
  type AccessWebhookPayload,
} from './webhook.js';
import { HEADERS } from '../header-names.js';

const SECRET = 'webhook-test-secret-0123456789';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A receiver whose answers are scripted per request (default 204); `hang` never answers. */
async function receiver(answers: (number | 'hang')[] = []) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      for (const w of waiters.splice(0)) w();
      const answer = answers.shift() ?? 204;
      if (answer === 'hang') return void hanging.push(res);
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    received,
    /** Resolves once `n` requests have arrived. */
    async count(n: number) {
      while (received.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function payload(over: Partial<AccessWebhookPayload> = {}): AccessWebhookPayload {
  return {
    event: 'access-request.created',
    id: 'req-1',
    route: 'wiki',
    user: 'bob',
    reason: 'incident 42',
    durationSeconds: 3600,
    url: 'https://auth.example.com/.drawbridge/requests',
    text: 'bob asks for wiki for 1h: "incident 42" — [review](https://auth.example.com/.drawbridge/requests)',
    ...over,
  };
}

function logs() {
  const events: Record<string, unknown>[] = [];
  return { events, log: (e: Record<string, unknown>) => void events.push(e) };
}

test('an event is POSTed as signed JSON the receiver verifies, with its event and delivery id', { timeout: 20_000 }, async () => {
  const r = await receiver();
  const l = logs();
  const hook = createAccessWebhook({ url: r.url, secret: SECRET, log: l.log });
  try {
    hook.notify(payload());
    await hook.idle();
    assert.equal(r.received.length, 1);
    const { headers, body } = r.received[0]!;
    assert.equal(headers[HEADERS.contentType], 'application/json');
    assert.equal(headers[HEADERS.webhookEvent], 'access-request.created');
    assert.match(String(headers[HEADERS.webhookDelivery]), /^[0-9a-f-]{36}$/);
    const signature = String(headers[HEADERS.webhookSignature]);
    assert.ok(verifyAccessWebhookSignature(SECRET, signature, body, Math.floor(Date.now() / 1000)), signature);
    const parsed = JSON.parse(body) as AccessWebhookPayload;
    assert.deepEqual(parsed, payload());
    assert.match(parsed.text, /\[review\]\(https:\/\/auth\.example\.com\/\.drawbridge\/requests\)/);
    assert.deepEqual(
      l.events.map((e) => [e.event, e.outcome, e.status]),
      [['access-webhook', 'delivered', 204]],
    );
  } finally {
    await hook.close();
    await r.close();
  }
});

test('5xx, 429 and 408 are retried with the same delivery id until a 2xx', { timeout: 20_000 }, async () => {
  const r = await receiver([503, 429, 408, 200]);
  const l = logs();
  const hook = createAccessWebhook({ url: r.url, secret: SECRET, log: l.log, retryBaseMs: 1 });
  try {
    hook.notify(payload());
    await r.count(4);
    await hook.idle();
    assert.equal(r.received.length, 4);
    assert.equal(new Set(r.received.map((x) => x.headers[HEADERS.webhookDelivery])).size, 1, 'one delivery id');
    assert.deepEqual(
      l.events.map((e) => [e.outcome, e.status, e.attempt]),
      [
        ['retry', 503, 1],
        ['retry', 429, 2],
        ['retry', 408, 3],
        ['delivered', 200, 4],
      ],
    );
    // Each retry waits longer than the one before (capped exponential backoff with jitter).
    const delays = l.events.filter((e) => e.outcome === 'retry').map((e) => e.delayMs as number);
    assert.ok(delays[0]! <= 2 && delays[2]! >= 3, `delays ${delays}`);
  } finally {
    await hook.close();
    await r.close();
  }
});

test('a 4xx other than 408/429, and a redirect, are given up at once (never followed)', { timeout: 20_000 }, async () => {
  const r = await receiver([400, 302]);
  const l = logs();
  const hook = createAccessWebhook({ url: r.url, secret: SECRET, log: l.log, retryBaseMs: 1 });
  try {
    hook.notify(payload({ id: 'a' }));
    hook.notify(payload({ id: 'b' }));
    await hook.idle();
    assert.equal(r.received.length, 2);
    assert.deepEqual(
      l.events.map((e) => [e.id, e.outcome, e.status]),
      [
        ['a', 'failed', 400],
        ['b', 'failed', 302],
      ],
    );
  } finally {
    await hook.close();
    await r.close();
  }
});

test('a receiver that stays down is tried maxAttempts times, then the event is logged as failed', { timeout: 20_000 }, async () => {
  const r = await receiver();
  const url = r.url;
  await r.close(); // nothing listens there any more: connection refused
  const l = logs();
  const hook = createAccessWebhook({ url, secret: SECRET, log: l.log, retryBaseMs: 1, maxAttempts: 3 });
  try {
    hook.notify(payload());
    await hook.idle();
    assert.deepEqual(
      l.events.map((e) => e.outcome),
      ['retry', 'retry', 'failed'],
    );
    assert.ok(l.events.every((e) => typeof e.error === 'string' && e.status === undefined));
  } finally {
    await hook.close();
  }
});

test('notify never waits for the receiver: a hanging receiver times out, and the queue is bounded', { timeout: 20_000 }, async () => {
  const r = await receiver(['hang', 'hang', 'hang']);
  const l = logs();
  const hook = createAccessWebhook({ url: r.url, secret: SECRET, log: l.log, timeoutMs: 300, maxAttempts: 1, maxQueue: 1 });
  try {
    hook.notify(payload({ id: 'first' }));
    await r.count(1); // in flight, hanging
    hook.notify(payload({ id: 'second' }));
    hook.notify(payload({ id: 'third' })); // the queue holds one: 'second' is dropped
    assert.deepEqual(l.events.map((e) => [e.id, e.outcome, e.why]), [['second', 'dropped', 'queue-full']]);
    await hook.idle();
    assert.deepEqual(
      l.events.map((e) => [e.id, e.outcome, e.error]),
      [
        ['second', 'dropped', undefined],
        ['first', 'failed', 'timeout'],
        ['third', 'failed', 'timeout'],
      ],
    );
  } finally {
    await hook.close();
    await r.close();
  }
});

test('close cancels waiting retries and drops what is queued, logged', { timeout: 20_000 }, async () => {
  const r = await receiver([500]);
  const l = logs();
  const hook = createAccessWebhook({ url: r.url, secret: SECRET, log: l.log, retryBaseMs: 3_600_000 });
  try {
    hook.notify(payload());
    await r.count(1);
    while (!l.events.some((e) => e.outcome === 'retry')) await new Promise((resolve) => setImmediate(resolve));
    await hook.close(); // the hour-long retry timer is cancelled: the test ends at once
    hook.notify(payload({ id: 'late' }));
    assert.deepEqual(
      l.events.map((e) => [e.id, e.outcome]),
      [
        ['req-1', 'retry'],
        ['late', 'dropped'],
      ],
    );
    assert.equal(r.received.length, 1);
  } finally {
    await r.close();
  }
});

test('the signature refuses another body, another key, an old or future time and malformed headers', () => {
  const body = JSON.stringify(payload());
  const t = 1_800_000_000;
  const good = signAccessWebhook(SECRET, body, t);
  assert.match(good, /^t=1800000000,v1=[0-9a-f]{64}$/);
  assert.equal(verifyAccessWebhookSignature(SECRET, good, body, t), true);
  assert.equal(verifyAccessWebhookSignature(SECRET, good, body, t + 300), true, 'within tolerance');
  assert.equal(verifyAccessWebhookSignature(SECRET, good, body.replace('bob', 'eve'), t), false, 'tampered body');
  assert.equal(verifyAccessWebhookSignature('another-secret', good, body, t), false, 'another key');
  assert.equal(verifyAccessWebhookSignature(SECRET, good, body, t + 301), false, 'replayed later');
  assert.equal(verifyAccessWebhookSignature(SECRET, good, body, t - 301), false, 'from the future');
  const mac = good.split('v1=')[1]!;
  for (const bad of [
    undefined,
    '',
    `v1=${mac}`,
    `t=${t}`,
    `t=${t},v1=${mac.slice(2)}`,
    `t=${t},v1=${mac.toUpperCase()}`,
    `t=${t},t=${t},v1=${mac}`,
    `t=${t}x,v1=${mac}`,
    `t=${t + 1},v1=${mac}`,
  ]) {
    assert.equal(verifyAccessWebhookSignature(SECRET, bad, body, t), false, String(bad));
  }
});
