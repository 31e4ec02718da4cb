// server/refresh.ts — keeps a session's claims current with the IdP's refresh token: at most one
// refresh in flight per session in this process; a refusal ends the session; an unreachable IdP
// leaves the session as it is (retried after a pause) — existing sessions outlive IdP outages.
import { ResponseBodyError } from 'openid-client';
import { identityFromClaims } from '../oidc/claims.js';
import { tokenFields } from '../session/sessions.js';
import type { SessionRecord } from '../session/store.js';
import type { Runtime } from './runtime.js';

const RETRY_AFTER_FAILURE_MS = 30_000;

export type RefreshOutcome = { state: 'valid'; record: SessionRecord } | { state: 'ended' };

/** Refreshes sessions whose access token is due; shares one promise per session among concurrent requests. */
export class Refresher {
  private readonly inFlight = new Map<string, Promise<RefreshOutcome>>();
  private readonly pausedUntil = new Map<string, number>();

  constructor(private readonly rt: Runtime) {}

  /** True when the record should be refreshed now (cheap: runs on every authenticated request). */
  due(record: SessionRecord, now: number): boolean {
    const at = record.tokens.refreshAt ?? record.tokens.accessTokenExpiresAt;
    if (at === undefined || record.tokens.refreshToken === undefined || now < at) return false;
    const paused = this.pausedUntil.get(record.id);
    return paused === undefined || now >= paused;
  }

  refresh(record: SessionRecord, requestId: string): Promise<RefreshOutcome> {
    let p = this.inFlight.get(record.id);
    if (!p) {
      p = this.run(record, requestId).finally(() => this.inFlight.delete(record.id));
      this.inFlight.set(record.id, p);
    }
    return p;
  }

  private async run(record: SessionRecord, requestId: string): Promise<RefreshOutcome> {
    const { rt } = this;
    // Another replica may have refreshed already: read the record again before spending the refresh token.
    const current = (await rt.sessions.store.get(record.id)) ?? record;
    if (!this.due(current, rt.now())) return { state: 'valid', record: current };
    try {
      const tokens = await rt.oidc.refresh(current.tokens.refreshToken!);
      // The new ID token's claims replace the old ones entirely: a group removed at the IdP is gone.
      const identity = tokens.claims ? identityFromClaims(tokens.claims, rt.snapshot().compiled.config.idp.claims) : current.identity;
      if (identity.sub !== current.identity.sub) throw new Error('the refreshed ID token names another subject');
      const next: SessionRecord = { ...current, identity, tokens: { ...current.tokens, ...tokenFields(tokens) } };
      if (tokens.claims && tokens.claims.auth_time === undefined && current.identity.authTime !== undefined) next.identity.authTime = current.identity.authTime;
      // Ended while the IdP answered (sign-out, back-channel logout, revoke): writing it back would revive it.
      if (!(await rt.sessions.store.get(record.id))) {
        rt.logger.info({ event: 'refresh', result: 'session-ended', requestId, user: current.identity.user });
        return { state: 'ended' };
      }
      await rt.sessions.store.set(next);
      this.pausedUntil.delete(record.id);
      rt.logger.info({ event: 'refresh', result: 'success', requestId, user: identity.user, groupsChanged: identity.groups.join(',') !== current.identity.groups.join(',') });
      return { state: 'valid', record: next };
    } catch (e) {
      // Only a refusal of the grant itself ends the session; a 429 or 5xx in front of the IdP is an outage.
      const refused = e instanceof ResponseBodyError && (e.error === 'invalid_grant' || (e.status >= 400 && e.status < 500 && e.status !== 429 && e.status !== 408));
      if (refused || (e as Error).message === 'the refreshed ID token names another subject') {
        // The IdP refused the refresh token: the session ends here and now.
        await rt.sessions.store.delete(record.id);
        rt.logger.warn({ event: 'refresh', result: 'refused', requestId, user: current.identity.user, error: (e as Error).message });
        return { state: 'ended' };
      }
      this.pausedUntil.set(record.id, rt.now() + RETRY_AFTER_FAILURE_MS);
      if (this.pausedUntil.size > 10_000) this.pausedUntil.clear();
      rt.logger.warn({ event: 'refresh', result: 'idp-unavailable', requestId, user: current.identity.user, error: (e as Error).message });
      return { state: 'valid', record: current };
    }
  }
}
