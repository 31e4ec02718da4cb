// access/access.ts — just-in-time access (docs/access-requests.md): pending requests and active grants, held in the
// session store (every replica sees them at once), with one audit log event and one metric per change and a webhook
// notification. The pages (signin/requests.ts) check who may ask and who may approve; this module keeps the records.
import { randomUUID } from 'node:crypto';
import { decide, type Decision } from '../policy/evaluate.js';
import type { Identity, PolicyInput } from '../policy/input.js';
import type { Route } from '../routes/compile.js';
import { oneTimeRecords, ACCESS_GRANT, type AccessGrantRecord, type AccessRequestRecord } from '../session/one-time.js';
import type { SessionStore } from '../session/store.js';
import type { AccessWebhook, AccessWebhookPayload } from './webhook.js';

export type { AccessGrantRecord, AccessRequestRecord } from '../session/one-time.js';

/** What the access records need. */
export interface AccessOptions {
  readonly store: Pick<SessionStore, 'putOnce' | 'takeOnce' | 'peekOnce' | 'listOnce'>;
  readonly logger: { info(fields: Record<string, unknown>): void; warn(fields: Record<string, unknown>): void };
  readonly metrics: { access(event: 'access-request' | 'access-grant', action: string, route: string): void };
  now(): number;
  /** The notifier of `accessRequests.webhook`, when configured. */
  readonly webhook?: AccessWebhook | undefined;
  /** The approvals page's absolute URL (publicUrl + /.drawbridge/requests), linked from notifications. */
  requestsUrl(): string;
}

/** A new request, as the 403 page's form asked it. */
export interface AskInput {
  readonly route: string;
  readonly identity: Identity;
  readonly reason: string;
  readonly durationMs: number;
  /** The request id of the POST that asked (logged), and the reasons the route denied the user. */
  readonly requestId: string;
  readonly deniedBy: readonly string[];
  /** The route's autoApprove policy allows the requester: granted at once, approver `auto`. */
  readonly autoApprove: boolean;
}

export type AskResult =
  | { readonly kind: 'pending'; readonly request: AccessRequestRecord }
  | { readonly kind: 'granted'; readonly request: AccessRequestRecord; readonly grant: AccessGrantRecord }
  /** This user already has a request pending for this route. */
  | { readonly kind: 'duplicate' }
  /** This user asked for another access moments ago. */
  | { readonly kind: 'rate-limited' };

export type DecideResult =
  | { readonly kind: 'approved'; readonly request: AccessRequestRecord; readonly grant: AccessGrantRecord }
  | { readonly kind: 'denied'; readonly request: AccessRequestRecord }
  /** No such pending request (already decided, withdrawn or expired). */
  | { readonly kind: 'gone' }
  /** The approver is the requester. */
  | { readonly kind: 'self' };

/** Selects grants for listing and revocation; fields are ANDed. */
export interface GrantFilter {
  readonly id?: string | undefined;
  readonly user?: string | undefined;
  readonly route?: string | undefined;
}

/** How long a grant record outlives its expiry in the store (one replica's sweep takes it and logs the expiry). */
const GRANT_AFTERLIFE_MS = ACCESS_GRANT.ttlMs;

/** The store key part of a request or grant: one per route and user. */
function slot(route: string, sub: string): string {
  return `${route}\0${sub}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A duration in seconds as people read it: `1 hour`, `90 minutes`, `2 days`. */
export function durationText(seconds: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (seconds >= 86_400 && seconds % 86_400 === 0) return unit(seconds / 86_400, 'day');
  if (seconds >= 3600 && seconds % 3600 === 0) return unit(seconds / 3600, 'hour');
  if (seconds >= 60 && seconds % 60 === 0) return unit(seconds / 60, 'minute');
  return unit(Math.max(0, Math.round(seconds)), 'second');
}

/** What is left of a grant at `now`, rounded up to the minute (`45 minutes`). */
export function remainingText(expiresAt: number, now: number): string {
  const minutes = Math.max(1, Math.ceil((expiresAt - now) / 60_000));
  return minutes >= 120 && minutes % 60 === 0 ? durationText(minutes * 60) : minutes >= 120 ? `${Math.floor(minutes / 60)} hours ${minutes % 60} minutes` : durationText(minutes * 60);
}

const CHOICES_SEC = [15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600, 86_400, 3 * 86_400, 7 * 86_400];

/** The durations the request form offers: the usual ones up to `maxMs`, the default and the maximum itself. */
export function durationChoices(maxMs: number, defaultMs: number): Array<{ seconds: number; label: string }> {
  const max = Math.floor(maxMs / 1000);
  const set = new Set<number>([...CHOICES_SEC.filter((s) => s <= max), Math.floor(defaultMs / 1000), max]);
  return [...set].filter((s) => s >= 60).sort((a, b) => a - b).map((seconds) => ({ seconds, label: durationText(seconds) }));
}

/** Pending access requests and active grants in one store. */
export class AccessRecords {
  readonly #o: AccessOptions;
  readonly #records: ReturnType<typeof oneTimeRecords>;

  constructor(options: AccessOptions) {
    this.#o = options;
    this.#records = oneTimeRecords(options.store);
  }

  /** Records a request (one pending per user and route, rate-limited per user); granted at once when auto-approved. */
  async ask(input: AskInput): Promise<AskResult> {
    const { identity } = input;
    const now = this.#o.now();
    const request: AccessRequestRecord = {
      id: randomUUID(),
      route: input.route,
      sub: identity.sub,
      user: identity.user,
      ...(identity.email !== undefined ? { email: identity.email } : {}),
      ...(identity.name !== undefined ? { name: identity.name } : {}),
      reason: input.reason,
      durationSeconds: Math.round(input.durationMs / 1000),
      createdAt: now,
      requestId: input.requestId,
      deniedBy: [...input.deniedBy],
    };
    const key = slot(input.route, identity.sub);
    if ((await this.#records.accessRequests.peek(key)) !== undefined) return { kind: 'duplicate' };
    if (!(await this.#records.accessRate.put(identity.sub, true))) return { kind: 'rate-limited' };
    if (!input.autoApprove) {
      if (!(await this.#records.accessRequests.put(key, request))) return { kind: 'duplicate' };
      this.#audit('access-request', 'created', { id: request.id, route: request.route, subject: request.user, actor: request.user, reason: request.reason, durationSeconds: request.durationSeconds, requestId: request.requestId, deniedBy: request.deniedBy });
      this.#notify({ event: 'access-request.created', id: request.id, route: request.route, user: request.user, actor: request.user, reason: request.reason, durationSeconds: request.durationSeconds, url: this.#o.requestsUrl(), text: `${request.user} asks for access to ${request.route} for ${durationText(request.durationSeconds)}${request.reason ? `: ${request.reason}` : ''}` });
      return { kind: 'pending', request };
    }
    this.#audit('access-request', 'created', { id: request.id, route: request.route, subject: request.user, actor: request.user, reason: request.reason, durationSeconds: request.durationSeconds, requestId: request.requestId, deniedBy: request.deniedBy, autoApprove: true });
    const grant = await this.#grant(request, 'auto', now);
    return { kind: 'granted', request, grant };
  }

  /** Every pending request (newest first). */
  async pending(): Promise<AccessRequestRecord[]> {
    return (await this.#records.accessRequests.list()).sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * Approves or denies a pending request as `approver` (whose right to, by the route's `approvers` policy, the
   * caller checked at this moment). Nobody decides their own request. The request is taken atomically: of two
   * approvers at once, one decides, the other finds it gone.
   */
  async decide(id: string, approve: boolean, approver: Identity): Promise<DecideResult> {
    const request = (await this.pending()).find((r) => r.id === id);
    if (request === undefined) return { kind: 'gone' };
    if (request.sub === approver.sub || request.user === approver.user) return { kind: 'self' };
    const key = slot(request.route, request.sub);
    const taken = await this.#records.accessRequests.take(key);
    if (taken === undefined) return { kind: 'gone' };
    if (taken.id !== id) {
      // A newer request of the same user and route took its place meanwhile: put it back, untouched.
      await this.#records.accessRequests.put(key, taken, Math.max(1, taken.createdAt + this.#records.accessRequests.kind.ttlMs - this.#o.now()));
      return { kind: 'gone' };
    }
    const now = this.#o.now();
    if (!approve) {
      this.#audit('access-request', 'denied', { id, route: request.route, subject: request.user, actor: approver.user, reason: request.reason });
      this.#notify({ event: 'access-request.denied', id, route: request.route, user: request.user, actor: approver.user, reason: request.reason, url: this.#o.requestsUrl(), text: `${approver.user} denied ${request.user}'s access to ${request.route}` });
      return { kind: 'denied', request };
    }
    this.#audit('access-request', 'approved', { id, route: request.route, subject: request.user, actor: approver.user, reason: request.reason, durationSeconds: request.durationSeconds });
    const grant = await this.#grant(request, approver.user, now);
    this.#notify({ event: 'access-request.approved', id, route: request.route, user: request.user, actor: approver.user, reason: request.reason, durationSeconds: request.durationSeconds, expiresAt: iso(grant.expiresAt), url: this.#o.requestsUrl(), text: `${approver.user} approved ${request.user}'s access to ${request.route} until ${iso(grant.expiresAt)}` });
    return { kind: 'approved', request, grant };
  }

  /** The active grant of `sub` for the route named `route` at `now`, if any (one store read). */
  async grantFor(route: string, sub: string, now: number): Promise<AccessGrantRecord | undefined> {
    const grant = await this.#records.accessGrants.peek(slot(route, sub));
    return grant !== undefined && grant.sub === sub && grant.route === route && now < grant.expiresAt ? grant : undefined;
  }

  /** The grants still active at `now`, matching the filter (soonest to end first). */
  async grants(filter: GrantFilter = {}): Promise<AccessGrantRecord[]> {
    const now = this.#o.now();
    return (await this.#records.accessGrants.list())
      .filter((g) => now < g.expiresAt && matches(g, filter))
      .sort((a, b) => a.expiresAt - b.expiresAt);
  }

  /** Ends the matching active grants now (`drawbridge grants revoke`, the admin listener); returns them. */
  async revoke(filter: GrantFilter, actor: string): Promise<AccessGrantRecord[]> {
    const ended: AccessGrantRecord[] = [];
    for (const g of await this.grants(filter)) {
      const taken = await this.#records.accessGrants.take(slot(g.route, g.sub));
      if (taken === undefined) continue;
      if (taken.id !== g.id) {
        await this.#records.accessGrants.put(slot(taken.route, taken.sub), taken, Math.max(1, taken.expiresAt + GRANT_AFTERLIFE_MS - this.#o.now()));
        continue;
      }
      ended.push(taken);
      this.#audit('access-grant', 'revoked', { id: taken.id, route: taken.route, subject: taken.user, actor, reason: taken.reason, expiresAt: iso(taken.expiresAt) });
      this.#notify({ event: 'access-grant.revoked', id: taken.id, route: taken.route, user: taken.user, actor, url: this.#o.requestsUrl(), text: `${actor} ended ${taken.user}'s access to ${taken.route}` });
    }
    return ended;
  }

  /**
   * Takes the grants past their expiry and logs each expiry once (of several replicas sweeping, the one whose take
   * succeeds logs it); returns them, so that the caller re-admits the open WebSockets at once.
   */
  async sweep(): Promise<AccessGrantRecord[]> {
    const now = this.#o.now();
    const expired: AccessGrantRecord[] = [];
    for (const g of await this.#records.accessGrants.list()) {
      if (now < g.expiresAt) continue;
      const taken = await this.#records.accessGrants.take(slot(g.route, g.sub));
      if (taken === undefined) continue;
      if (taken.id !== g.id || now < taken.expiresAt) {
        await this.#records.accessGrants.put(slot(taken.route, taken.sub), taken, Math.max(1, taken.expiresAt + GRANT_AFTERLIFE_MS - now));
        continue;
      }
      expired.push(taken);
      this.#audit('access-grant', 'expired', { id: taken.id, route: taken.route, subject: taken.user, actor: 'drawbridge', reason: taken.reason, expiresAt: iso(taken.expiresAt) });
      this.#notify({ event: 'access-grant.expired', id: taken.id, route: taken.route, user: taken.user, expiresAt: iso(taken.expiresAt), url: this.#o.requestsUrl(), text: `${taken.user}'s access to ${taken.route} has ended` });
    }
    return expired;
  }

  async #grant(request: AccessRequestRecord, approver: string, now: number): Promise<AccessGrantRecord> {
    const grant: AccessGrantRecord = {
      id: randomUUID(),
      route: request.route,
      sub: request.sub,
      user: request.user,
      approver,
      reason: request.reason,
      requestOf: request.id,
      createdAt: now,
      expiresAt: now + request.durationSeconds * 1000,
    };
    const key = slot(request.route, request.sub);
    const ttl = grant.expiresAt - now + GRANT_AFTERLIFE_MS;
    // A grant already there (an earlier one, still running) is replaced by the new one.
    while (!(await this.#records.accessGrants.put(key, grant, ttl))) await this.#records.accessGrants.take(key);
    this.#audit('access-grant', 'created', { id: grant.id, requestOf: request.id, route: grant.route, subject: grant.user, actor: approver, reason: grant.reason, expiresAt: iso(grant.expiresAt) });
    return grant;
  }

  #audit(event: 'access-request' | 'access-grant', action: string, fields: Record<string, unknown>): void {
    this.#o.logger.info({ event, action, ...fields });
    this.#o.metrics.access(event, action, String(fields.route ?? ''));
  }

  #notify(payload: AccessWebhookPayload): void {
    this.#o.webhook?.notify(payload);
  }
}

function matches(g: AccessGrantRecord, filter: GrantFilter): boolean {
  return (filter.id === undefined || g.id === filter.id) && (filter.user === undefined || g.user === filter.user) && (filter.route === undefined || g.route === filter.route);
}

/** What admission and the WebSocket sweep read grants through. */
export interface GrantLookup {
  grantFor(route: string, sub: string, now: number): Promise<{ readonly id: string } | undefined>;
}

/**
 * True when an active grant could change this decision: the route takes requests, someone is signed in, and the
 * allow rules (not a deny rule) refused them. Only then is the store read for a grant.
 */
export function grantMayApply(route: Route, identity: Identity | undefined, decision: Decision): identity is Identity {
  if (route.requests === undefined || identity === undefined || decision.outcome === 'allow' || decision.outcome === 'sign-in') return false;
  const first = decision.reasons[0]?.code;
  return first !== 'deny-matched' && first !== 'deny-undecided';
}

/**
 * The route's decision with the user's active grant taken into account (the same `decide`, with `grant` in its
 * input): one store read, only when `grantMayApply`. Rejects when the store fails (the caller fails closed).
 */
export async function decideWithGrant(grants: GrantLookup, route: Route, input: PolicyInput, first: Decision, options?: { trace?: boolean }): Promise<Decision> {
  if (!grantMayApply(route, input.identity, first)) return first;
  const grant = await grants.grantFor(route.name, input.identity.sub, input.now);
  return grant === undefined ? first : decide(route, { ...input, grant: { id: grant.id } }, options);
}
