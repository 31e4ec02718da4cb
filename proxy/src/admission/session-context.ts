// admission/session-context.ts — the session side of a request for the `context` and `risk` rules: the context the
// session was bound to, this request's, and the session's risk signals; a change of context is logged
// (`session-context-changed`, network prefixes only) and counted once, refusals are counted, both in the session
// store so that every replica sees them.
import { growingLru } from '../session/lru.js';
import { agentFamily, networkOf, type RiskSignal, type SeenContext, type SessionBinding, type SessionContext } from '../policy/context.js';
import type { DeviceCertificate } from '../policy/input.js';
import { addSignal } from '../policy/rules/risk.js';
import { Sessions, userNetworkKey } from '../session/sessions.js';
import type { SessionRecord, SessionStore } from '../session/store.js';

/** What this request brings to compare with the session's context. */
export interface RequestContext {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
  readonly device: DeviceCertificate | undefined;
  readonly now: number;
  readonly requestId: string;
  readonly route: string;
}

function seenOf(binding: SessionBinding): SeenContext {
  const network = networkOf(binding.ip);
  return { ...(network !== undefined ? { network } : {}), agent: binding.agent, ...(binding.device ? { device: binding.device } : {}) };
}

function keyOf(seen: SeenContext): string {
  return `${seen.network ?? '?'}|${seen.agent}|${seen.device ?? ''}`;
}

/** The context a session's last request came with, as sent (address, User-Agent, certificate) and as compared. */
interface LastContext {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
  readonly device: string | undefined;
  readonly key: string;
  readonly seen: SeenContext;
}

/** Sessions' contexts as admission reads and records them. */
export class SessionContexts {
  // Session id → the context last handled by this process (as sent, and as compared): a change is logged and written
  // once, not once per request.
  readonly #last = growingLru<string, LastContext>(10_000);
  // Session id → its last queued store write (only while writes are in flight).
  readonly #writes = new Map<string, Promise<void>>();
  // User-Agent header → its family: the same few strings come again and again.
  readonly #agents = growingLru<string, string>(1_000);

  constructor(
    private readonly store: SessionStore,
    private readonly logger: { warn(fields: Record<string, unknown> & { event: string }): void },
    /** How long a network stays "seen" for a user: the sessions' maximum lifetime. */
    private readonly userNetworkTtlMs: () => number,
  ) {}

  /** The agent family of a User-Agent header (cached). */
  agent(userAgent: string | undefined): string {
    if (userAgent === undefined) return 'none';
    let family = this.#agents.get(userAgent);
    if (family === undefined) this.#agents.set(userAgent, (family = agentFamily(userAgent)));
    return family;
  }

  /**
   * The session side of this request for the policy. A context (network prefix, browser family, device) other than
   * the one last seen is logged and becomes a `context-change` signal at once (and, in the background, in the store,
   * with a `new-network` signal when the user had not been seen on that network).
   */
  context(record: SessionRecord, req: RequestContext): SessionContext {
    // The usual request comes exactly as the last one of its session did: nothing to parse, compare or write (and no
    // string built to compare: the three values as they came).
    const { ip, userAgent } = req;
    const device = req.device?.fingerprint256;
    const last = this.#last.get(record.id);
    if (last !== undefined && last.ip === ip && last.userAgent === userAgent && last.device === device) return { bound: record.binding, agent: last.seen.agent, signals: record.signals ?? [] };
    const network = networkOf(req.ip);
    const seen: SeenContext = { ...(network !== undefined ? { network } : {}), agent: this.agent(req.userAgent), ...(req.device ? { device: req.device.fingerprint256 } : {}) };
    const key = keyOf(seen);
    this.#last.set(record.id, { ip, userAgent, device, key, seen });
    let signals: readonly RiskSignal[] = record.signals ?? [];
    if (last?.key !== key) {
      // What this process saw last wins over the record, whose copy may predate a write still in flight.
      const before = last?.seen ?? record.seen ?? (record.binding ? seenOf(record.binding) : undefined);
      if (before === undefined || keyOf(before) !== key) {
        const signal: RiskSignal | undefined = before === undefined ? undefined : { kind: 'context-change', at: req.now, detail: describeChange(before, seen) };
        if (signal) {
          signals = addSignal(signals, signal);
          this.logger.warn({
            event: 'session-context-changed',
            requestId: req.requestId,
            route: req.route,
            sid: Sessions.sidHash(record.id),
            user: record.identity.user,
            // Prefixes (/24, /48), never full addresses: this line may be kept long and widely.
            oldNetwork: before!.network ?? 'unknown',
            newNetwork: seen.network ?? 'unknown',
            ...(before!.agent !== seen.agent ? { oldAgent: before!.agent, newAgent: seen.agent } : {}),
            ...(before!.device !== seen.device ? { deviceChanged: true } : {}),
          });
        }
        this.#background(record, req, (r) => {
          r.seen = seen;
          if (signal) r.signals = addSignal(r.signals, signal);
        }, signal && seen.network !== undefined && seen.network !== before!.network ? seen.network : undefined);
      }
    }
    return { bound: record.binding, agent: seen.agent, signals };
  }

  /** Counts a refusal of the session's request (the `risk` rule's bursts of refusals), in the background. */
  denied(record: SessionRecord, req: RequestContext): void {
    this.#background(record, req, (r) => {
      r.signals = addSignal(r.signals, { kind: 'denial', at: req.now });
    });
  }

  /**
   * Re-reads the record and writes it back changed, only if the session still lives: the copy admission holds may be
   * older than a refresh that replaced its tokens. `network`: also check whether it is new for the user.
   */
  #background(record: SessionRecord, req: RequestContext, change: (r: SessionRecord) => void, network?: string): void {
    const id = record.id;
    const write = async (): Promise<void> => {
      let fresh = await this.store.get(id);
      if (fresh === undefined) return;
      if (network !== undefined && (await this.store.putOnce(userNetworkKey(record.identity.sub, network), '1', this.userNetworkTtlMs()))) {
        fresh = { ...fresh, signals: addSignal(fresh.signals, { kind: 'new-network', at: req.now, detail: network }) };
      }
      change(fresh);
      await this.store.replace(fresh);
    };
    // One write at a time per session in this process, each on the record the previous one wrote: two refusals in
    // flight together must both count. (Replicas writing the same session at the same instant may still lose one.)
    const next = (this.#writes.get(id) ?? Promise.resolve())
      .then(write)
      .catch((e: Error) => this.logger.warn({ event: 'session-context', error: e.message, requestId: req.requestId }));
    this.#writes.set(id, next);
    void next.then(() => {
      if (this.#writes.get(id) === next) this.#writes.delete(id);
    });
  }
}

/** What changed, in a few words for the signal (prefixes, never full addresses). */
function describeChange(before: SeenContext, now: SeenContext): string {
  const parts: string[] = [];
  if (before.network !== now.network) parts.push(`network ${before.network ?? 'unknown'} → ${now.network ?? 'unknown'}`);
  if (before.agent !== now.agent) parts.push(`browser ${before.agent} → ${now.agent}`);
  if (before.device !== now.device) parts.push('device certificate');
  return parts.join(', ');
}
