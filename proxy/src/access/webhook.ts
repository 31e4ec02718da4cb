// access/webhook.ts — tells people about access requests: each event is one JSON POST to the configured webhook,
// signed with HMAC-SHA256, sent in the background (never on the request path), retried with capped exponential
// backoff on network errors, timeouts, 408, 429 and 5xx, and given up (logged) on any other answer.
//
// Signature (the Stripe/Standard-Webhooks shape, so receivers can reuse what they know): the header
// `X-Drawbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. Binding the time into
// the MAC lets a receiver refuse replays older than its tolerance (verifyAccessWebhookSignature: 5 minutes).
// The body carries a `text` field with a Markdown link, which Slack, Mattermost, Rocket.Chat and Discord-compatible
// incoming webhooks show as a message as it is.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { HEADERS } from '../header-names.js';

export type AccessWebhookEvent =
  | 'access-request.created'
  | 'access-request.approved'
  | 'access-request.denied'
  | 'access-grant.revoked'
  | 'access-grant.expired';

export interface AccessWebhookPayload {
  event: AccessWebhookEvent;
  /** The access request's (or grant's) id. */
  id: string;
  /** The route id. */
  route: string;
  /** The user who asked (the grant's holder). */
  user: string;
  /** Who approved, denied or revoked; absent for `created` and `expired`. */
  actor?: string;
  reason?: string;
  durationSeconds?: number;
  /** ISO 8601. */
  expiresAt?: string;
  /** Where to act on it: the approval page (`/.drawbridge/requests`) on the public URL. */
  url: string;
  /** One line for chat tools, with a Markdown link to `url`. */
  text: string;
}

export interface AccessWebhookOptions {
  url: string;
  /** The HMAC key (the content of `secretFile`). */
  secret: string;
  /** Structured log sink; receives `event: 'access-webhook'` records. */
  log: (event: Record<string, unknown>) => void;
  /** Clock for the signature's time, milliseconds since the epoch. */
  now?: () => number;
  fetchImpl?: typeof fetch;
  /** Delivery attempts per event, first included (default 6: about a minute of retries). */
  maxAttempts?: number;
  /** The first retry's delay; each next one doubles, up to 60 s, with ±20 % jitter (default 1000). */
  retryBaseMs?: number;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  /** Events waiting beyond this are dropped, oldest first, and logged (default 1000). */
  maxQueue?: number;
}

export interface AccessWebhook {
  /** Queues the event; returns at once and never throws. */
  notify(payload: AccessWebhookPayload): void;
  /** Stops retrying, drops what is queued (logged) and waits for the attempt in flight. */
  close(): Promise<void>;
  /** Resolves when nothing is queued, waiting or in flight (tests and graceful shutdown). */
  idle(): Promise<void>;
}

const MAX_DELAY_MS = 60_000;

/** `t=<seconds>,v1=<hex>` for this body at this time. */
export function signAccessWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * What a receiver does: true only for a well-formed header whose v1 MAC matches this exact body and whose time is
 * within `toleranceSeconds` of `nowSeconds` (either side).
 */
export function verifyAccessWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  if (!header) return false;
  const parts = new Map<string, string>();
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || parts.has(part.slice(0, eq).trim())) return false;
    parts.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const t = parts.get('t');
  const v1 = parts.get('v1');
  if (!t || !/^\d{1,12}$/.test(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  if (Math.abs(nowSeconds - Number(t)) > toleranceSeconds) return false;
  const expected = Buffer.from(signAccessWebhook(secret, body, Number(t)).slice(`t=${t},v1=`.length), 'hex');
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

interface Delivery {
  id: string;
  payload: AccessWebhookPayload;
  attempt: number;
}

/** Whether an HTTP answer is worth another attempt. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export function createAccessWebhook(options: AccessWebhookOptions): AccessWebhook {
  const now = options.now ?? Date.now;
  const doFetch = options.fetchImpl ?? fetch;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 6);
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxQueue = Math.max(1, options.maxQueue ?? 1000);
  const log = options.log;

  const queue: Delivery[] = [];
  const waiting = new Set<NodeJS.Timeout>();
  let inFlight: Promise<void> | undefined;
  let closed = false;
  let idleWaiters: (() => void)[] = [];

  const settleIdle = () => {
    if (queue.length > 0 || waiting.size > 0 || inFlight) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const record = (d: Delivery, outcome: string, extra: Record<string, unknown> = {}) =>
    log({ event: 'access-webhook', outcome, delivery: d.id, webhookEvent: d.payload.event, id: d.payload.id, attempt: d.attempt, ...extra });

  const enqueue = (d: Delivery) => {
    if (closed) {
      record(d, 'dropped', { why: 'closed' });
      return;
    }
    queue.push(d);
    while (queue.length > maxQueue) record(queue.shift()!, 'dropped', { why: 'queue-full' });
    pump();
  };

  const pump = () => {
    if (inFlight || closed) return settleIdle();
    const next = queue.shift();
    if (!next) return settleIdle();
    inFlight = attempt(next).finally(() => {
      inFlight = undefined;
      pump();
    });
  };

  const attempt = async (d: Delivery): Promise<void> => {
    d.attempt += 1;
    const body = JSON.stringify(d.payload);
    let status: number | undefined;
    let error: string | undefined;
    try {
      const res = await doFetch(options.url, {
        method: 'POST',
        headers: {
          [HEADERS.contentType]: 'application/json',
          [HEADERS.webhookSignature]: signAccessWebhook(options.secret, body, Math.floor(now() / 1000)),
          [HEADERS.webhookEvent]: d.payload.event,
          [HEADERS.webhookDelivery]: d.id,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as Error).message ?? String(err));
    }
    if (status !== undefined && status >= 200 && status < 300) return record(d, 'delivered', { status });
    const again = (status === undefined || retryable(status)) && d.attempt < maxAttempts;
    if (!again) return record(d, 'failed', { status, error });
    const base = Math.min(MAX_DELAY_MS, retryBaseMs * 2 ** (d.attempt - 1));
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    record(d, 'retry', { status, error, delayMs: delay });
    const timer = setTimeout(() => {
      waiting.delete(timer);
      enqueue(d);
    }, delay);
    waiting.add(timer); // not unref'd: a pending retry keeps the process up until close() (shutdown calls it)
  };

  return {
    notify(payload) {
      enqueue({ id: randomUUID(), payload, attempt: 0 });
    },
    async close() {
      closed = true;
      for (const timer of waiting) clearTimeout(timer);
      waiting.clear();
      for (const d of queue.splice(0)) record(d, 'dropped', { why: 'closed' });
      await inFlight;
      settleIdle();
    },
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
  };
}
