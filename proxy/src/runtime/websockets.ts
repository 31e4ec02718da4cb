// runtime/websockets.ts — the WebSockets open through this instance, each bound to what admitted it (session or
// bearer token, route, request): a sweep re-admits every one against the store and the configuration in force, and
// closes those that would now be refused. Sign-out and back-channel logout close at once; a reload sweeps at once.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketHandle } from '../forward/forwarder.js';
import { CLOSE_CODES } from '../forward/ws-frames.js';
import { bearerBinding } from '../oidc/bearer.js';
import { decide } from '../policy/evaluate.js';
import { decideWithGrant, type GrantLookup } from '../access/access.js';
import type { DeviceCertificate, Identity } from '../policy/input.js';
import type { Sessions } from '../session/sessions.js';
import { sessionDeadline, type SessionRecord } from '../session/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Snapshot } from './runtime.js';
import { requestDevice } from './device.js';
import { keptRequestId } from './request-id.js';

/**
 * Why Drawbridge closed a WebSocket: `session-ended` (signed out, back-channel logout), `revoked` (the session is no
 * longer in the store: `drawbridge sessions revoke`, another replica's sign-out), `expired` (the session's idle or
 * absolute timeout, the route's own, or the bearer token's `exp`), `policy-denied` (the route's policy no longer
 * admits it: a reload, a time rule such as `before:`, changed groups), `reload` (its route is gone or no longer
 * allows WebSockets), `store-unavailable` (the session could not be checked: closed, never kept open unchecked).
 */
export type CloseReason = 'session-ended' | 'revoked' | 'expired' | 'policy-denied' | 'reload' | 'store-unavailable';

/** Default time between two sweeps: a WebSocket is closed at most this long (plus one store read) after its session ends. */
export const SWEEP_INTERVAL_MS = 30_000;

/** What a WebSocket was admitted with: the request as matched and authorized, and who it acts as. */
export interface Admission {
  readonly socket: Duplex;
  readonly requestId: string;
  /** The route's name at admission (for the log line and the metric). */
  readonly route: string;
  /** The normalized host name, port (if given), path and method the route was matched with. */
  readonly hostname: string;
  readonly port?: number;
  readonly path: string;
  readonly method: string;
  /** The client address the policy saw. */
  readonly ip: string | undefined;
  /** The device certificate the policy saw (the upgrade's). */
  readonly device?: DeviceCertificate;
  /**
   * The upgrade request and whether its peer is a trusted proxy: every sweep verifies its device certificate again
   * against the device CAs and revocation lists in force (a certificate revoked by a reload closes the WebSocket).
   */
  readonly upgrade?: { readonly request: IncomingMessage; readonly trustedPeer: boolean };
  /** Who it acts as; undefined when anonymous (a public route). */
  readonly identity?: Identity;
  /** The session that admitted it. */
  readonly sessionId?: string;
  /** The bearer token that admitted it (only its expiry is kept). */
  readonly bearer?: string;
}

/** A WebSocket in the registry; `attach` gives it the forwarder's handle once the upgrade is forwarded. */
export interface OpenWebSocket {
  attach(handle: WebSocketHandle): void;
}

interface Entry extends OpenWebSocket {
  readonly admission: Admission;
  /** The admitting bearer token: until when it is acceptable (ms since the epoch) and its audiences. */
  readonly token: { readonly until: number; readonly audiences: readonly string[] } | undefined;
  /** When the session stops being valid, as last read (it only moves later): tells an expiry from a revocation. */
  sessionDeadline: number | undefined;
  handle: WebSocketHandle | undefined;
  /** The close reason once closed (a handle attached later is closed at once). */
  closed: CloseReason | undefined;
}

/** Options of `WebSockets`. */
export interface WebSocketsOptions {
  snapshot(): Snapshot;
  readonly sessions: Sessions;
  now(): number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Time between two sweeps (default `SWEEP_INTERVAL_MS`); tests set a short one. */
  readonly intervalMs?: number;
  /** Access grants: a WebSocket a grant admitted stays open while the grant lasts (access/). */
  readonly grants?: GrantLookup;
}

/** The registry of one Drawbridge instance. `start()` begins the periodic sweep, `close()` ends it. */
export class WebSockets {
  private readonly open = new Set<Entry>();
  private timer: NodeJS.Timeout | undefined;
  /** The periodic sweep under way (a slow store never piles sweeps up). */
  private periodic: Promise<void> | undefined;

  constructor(private readonly options: WebSocketsOptions) {
    options.metrics.websocketsFrom(() => this.open.size);
  }

  /** How many WebSockets are open. */
  get size(): number {
    return this.open.size;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.periodic ??= this.sweep().finally(() => (this.periodic = undefined));
    }, this.options.intervalMs ?? SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the periodic sweep (open WebSockets are not closed by it). Safe to call twice. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Registers an admitted WebSocket until its client socket closes; undefined when that socket is already gone. */
  add(admission: Admission): OpenWebSocket | undefined {
    if (admission.socket.destroyed) return undefined;
    const entry: Entry = {
      // Kept as long as the WebSocket is open: its own copy of the request id, not a slice of the id batch.
      admission: { ...admission, requestId: keptRequestId(admission.requestId) },
      token: admission.bearer !== undefined ? (bearerBinding(admission.bearer) ?? { until: 0, audiences: [] }) : undefined,
      sessionDeadline: undefined,
      handle: undefined,
      closed: undefined,
      attach: (handle) => {
        entry.handle = handle;
        if (entry.closed !== undefined) handle.close(CLOSE_CODES.policyViolation, entry.closed);
      },
    };
    this.open.add(entry);
    admission.socket.once('close', () => this.open.delete(entry));
    if (admission.sessionId !== undefined) this.rememberDeadline(entry, admission.sessionId);
    return entry;
  }

  /** Closes at once every WebSocket of a session that was just ended in this process (sign-out). */
  endSession(sessionId: string, reason: CloseReason = 'session-ended'): void {
    for (const entry of this.open) if (entry.admission.sessionId === sessionId) this.closeEntry(entry, reason);
  }

  /**
   * Re-admits every open WebSocket now: its session read again from the store (so what another process or replica
   * ended is seen), its route matched again in the configuration in force, the route's decision taken again.
   * `missing` is the reason given for a session no longer in the store before its deadline (`revoked` unless the
   * caller knows better, e.g. `session-ended` right after a back-channel logout). Resolves when every check is done;
   * never rejects (callers fire and forget it).
   */
  sweep(missing: CloseReason = 'revoked'): Promise<void> {
    return this.run(missing).catch((e: Error) => this.options.logger.error({ event: 'internal-error', error: e.message, stack: e.stack }));
  }

  private async run(missing: CloseReason): Promise<void> {
    const now = this.options.now();
    const snap = this.options.snapshot();
    const failures: Error[] = [];
    await Promise.all(
      [...this.open].map(async (entry) => {
        if (entry.closed !== undefined) return;
        let reason: CloseReason | undefined;
        try {
          reason = await this.check(entry, snap, now, missing, failures);
        } catch (e) {
          // A WebSocket that could not be re-admitted is not kept open.
          this.options.logger.error({ event: 'internal-error', error: (e as Error).message, requestId: entry.admission.requestId });
          reason = 'policy-denied';
        }
        if (reason !== undefined) this.closeEntry(entry, reason);
      }),
    );
    // One line per sweep, however many WebSockets the failure closed (each has its websocket-closed line).
    if (failures.length > 0) this.options.logger.error({ event: 'session-store', error: failures[0]!.message, failures: failures.length });
  }

  /** The reason to close `entry`, or undefined when it would be admitted now. Store failures go to `failures`. */
  private async check(entry: Entry, snap: Snapshot, now: number, missing: CloseReason, failures: Error[]): Promise<CloseReason | undefined> {
    const a = entry.admission;
    const match = snap.compiled.table.match(a.hostname, a.port, a.path, a.method);
    if ('status' in match || !match.websockets) return 'reload';
    const route = match;
    let identity: Identity | undefined;
    let boundDevice: string | undefined;
    if (!route.public) {
      if (entry.token !== undefined) {
        // The route must still take this token (a reload may have turned bearer off or changed its audiences).
        const accepted = route.bearer !== false ? route.bearer.audiences : [];
        if (!entry.token.audiences.some((aud) => accepted.includes(aud))) return 'policy-denied';
        if (now >= entry.token.until) return 'expired';
        identity = a.identity;
      } else if (a.sessionId !== undefined) {
        let loaded;
        try {
          loaded = await this.options.sessions.load(a.sessionId, now, route);
        } catch (e) {
          failures.push(e as Error);
          return 'store-unavailable';
        }
        if (loaded.state !== 'valid') {
          const expired = (loaded.state === 'expired' && loaded.routeLimit === true) || (entry.sessionDeadline !== undefined && now >= entry.sessionDeadline);
          return expired ? 'expired' : missing;
        }
        entry.sessionDeadline = sessionDeadline(loaded.record);
        identity = loaded.record.identity;
        boundDevice = loaded.record.binding?.device;
      }
    }
    const device = a.upgrade !== undefined ? requestDevice(a.upgrade.request, a.upgrade.trustedPeer, snap.device, now).device : a.device;
    // A session started with a device certificate never works without that certificate (admission/admit.ts).
    if (boundDevice !== undefined && device?.fingerprint256 !== boundDevice) return 'policy-denied';
    const input = { identity, method: a.method, path: a.path, ip: a.ip, now, ...(device ? { device } : {}) };
    let decision = decide(route, input);
    if (this.options.grants !== undefined) {
      try {
        decision = await decideWithGrant(this.options.grants, route, input, decision);
      } catch (e) {
        failures.push(e as Error);
        return 'store-unavailable';
      }
    }
    return decision.outcome === 'allow' ? undefined : 'policy-denied';
  }

  private closeEntry(entry: Entry, reason: CloseReason): void {
    if (entry.closed !== undefined) return;
    entry.closed = reason;
    this.open.delete(entry);
    const a = entry.admission;
    this.options.logger[reason === 'store-unavailable' ? 'warn' : 'info']({ event: 'websocket-closed', requestId: a.requestId, route: a.route, user: a.identity?.user ?? '', reason });
    this.options.metrics.websocketClosed(a.route, reason);
    if (entry.handle !== undefined) entry.handle.close(CLOSE_CODES.policyViolation, reason);
    // Not yet forwarded: `attach` closes the handle when it comes.
  }

  /** Records when the admitting session would end, to tell a later expiry from a revocation. */
  private rememberDeadline(entry: Entry, id: string): void {
    const store = this.options.sessions.store;
    const keep = (record: SessionRecord | undefined) => {
      if (record !== undefined && entry.sessionDeadline === undefined) entry.sessionDeadline = sessionDeadline(record);
    };
    try {
      if (store.getNow !== undefined) return keep(store.getNow(id));
    } catch {
      return;
    }
    store.get(id).then(keep, () => undefined);
  }
}
