// server/access.ts — just-in-time access at run time (access/): the records over the session store, the webhook
// notifier of `accessRequests.webhook`, the sweep that ends expired grants (and re-admits open WebSockets at once),
// and the admin listener's /grants endpoints (what `drawbridge grants` uses for a memory store).
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { AccessRecords, type GrantFilter } from '../access/access.js';
import { createAccessWebhook, type AccessWebhook } from '../access/webhook.js';
import { wrap } from '../errors.js';
import { PATHS } from '../pages/paths.js';
import type { Config } from '../schema/config.js';
import type { SessionStore } from '../session/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

/** Default time between two sweeps of expired grants (a grant's WebSockets close at most this long after it ends). */
export const GRANT_SWEEP_MS = 5_000;

export interface AccessRuntimeOptions {
  readonly config: Config;
  readonly store: SessionStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  now(): number;
  /** Re-admits the open WebSockets (a grant ended). */
  sweepWebSockets(): void;
  readonly sweepMs?: number | undefined;
}

export interface AccessRuntime {
  readonly records: AccessRecords;
  /** Ends the grants past their expiry now (tests drive it on the injected clock instead of waiting for the timer). */
  sweep(): Promise<void>;
  /** Answers GET /grants and POST /grants/revoke on the admin listener; false for any other path. */
  admin(req: http.IncomingMessage, res: http.ServerResponse, path: string): boolean;
  start(): void;
  close(): Promise<void>;
}

/** Builds the access runtime (reads the webhook's secret file: a missing one fails the start). */
export function createAccessRuntime(options: AccessRuntimeOptions): AccessRuntime {
  const { config, logger } = options;
  const hook = config.accessRequests?.webhook;
  let webhook: AccessWebhook | undefined;
  if (hook) {
    let secret: string;
    try {
      secret = readFileSync(hook.secretFile, 'utf8').trim();
    } catch (e) {
      throw wrap(`reading accessRequests.webhook.secretFile ${hook.secretFile}`, e, 'DRB_CONFIG_READ');
    }
    webhook = createAccessWebhook({ url: hook.url, secret, log: (event) => logger.info({ event: 'access-webhook', ...event }), now: options.now });
  }
  const publicOrigin = new URL(config.publicUrl).origin;
  const records = new AccessRecords({ store: options.store, logger, metrics: options.metrics, now: options.now, webhook, requestsUrl: () => `${publicOrigin}${PATHS.requests}` });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  async function sweep(): Promise<void> {
    try {
      const expired = await records.sweep();
      if (expired.length > 0) options.sweepWebSockets();
    } catch (e) {
      logger.warn({ event: 'access-grant', action: 'sweep', result: 'failure', error: (e as Error).message });
    }
  }

  function admin(req: http.IncomingMessage, res: http.ServerResponse, path: string): boolean {
    if (path !== '/grants' && path !== '/grants/revoke') return false;
    const q = new URL(req.url ?? '/', 'http://admin').searchParams;
    const filter: GrantFilter = { id: q.get('id') ?? undefined, user: q.get('user') ?? undefined, route: q.get('route') ?? undefined };
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    if (path === '/grants') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return (json(405, { error: 'GET only' }), true);
      records.grants(filter).then((list) => json(200, list), (e: Error) => json(503, { error: e.message }));
      return true;
    }
    if (req.method !== 'POST') return (json(405, { error: 'POST only' }), true);
    // As for /sessions/revoke: a custom header a cross-origin page cannot send without a preflight.
    if (req.headers['x-drawbridge-admin'] !== 'revoke') return (json(403, { error: 'revoke needs the header x-drawbridge-admin: revoke' }), true);
    if (filter.id === undefined && filter.user === undefined && q.get('all') !== '1') return (json(400, { error: 'revoke needs id=ID, user=U or all=1' }), true);
    records.revoke(filter, 'admin').then(
      (ended) => {
        json(200, { revoked: ended.length, grants: ended });
        if (ended.length > 0) options.sweepWebSockets();
      },
      (e: Error) => json(503, { error: e.message }),
    );
    return true;
  }

  return {
    records,
    sweep,
    admin,
    start() {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        running ??= sweep().finally(() => (running = undefined));
      }, options.sweepMs ?? GRANT_SWEEP_MS);
      timer.unref();
    },
    async close() {
      clearInterval(timer);
      timer = undefined;
      await running;
      await webhook?.close();
    },
  };
}
