// server/refresh.ts — keeps a session's claims current with the IdP's refresh token: at most one
// refresh in flight per session in this process; a refusal (any 4xx but 408 and 429) ends the session;
// an unreachable or overloaded IdP (no answer, a timeout, 5xx, 408, 429) leaves the session as it is
// (retried after a pause) — existing sessions outlive IdP outages.
import { idpErrorDetail, isIdpRefusal } from '../oidc/client.js';
import { SubjectMismatchError } from '../oidc/identity.js';
import { IdentityClaimTooLongError } from '../oidc/claims.js';
import { isIdTokenRejected } from '../oidc/id-token.js';
import { tokenFields } from '../session/sessions.js';
import type { SessionRecord } from '../session/store.js';
import type { Runtime } from '../runtime/runtime.js';

const RETRY_AFTER_FAILURE_MS = 30_000;
/** A failed refresh that held its request this long (a hanging IdP, up to the client's timeout) pauses them all. */
const SLOW_FAILURE_MS = 1_000;

export type RefreshOutcome = { state: 'valid'; record: SessionRecord } | { state: 'ended' };

/** Refreshes sessions whose access token is due; shares one promise per session among concurrent requests. */
export class Refresher {
  private readonly inFlight = new Map<string, Promise<RefreshOutcome>>();
  private readonly pausedUntil = new Map<string, number>();
  /**
   * A refresh failed slowly (the IdP hangs: the request waited up to the client's timeout): until `idpPausedUntil`
   * no session tries, then one session's refresh (the probe) tries while the others wait for its outcome. Without
   * this, a hanging IdP would stall one request of every user whose refresh is due, each for the full timeout,
   * every pause. A failure that comes fast (connection refused, 5xx, 429) costs its request little: only that
   * session pauses (`pausedUntil`).
   */
  private idpDown = false;
  private idpPausedUntil = 0;
  private probe: string | undefined;

  constructor(private readonly rt: Runtime) {}

  /** True when the record should be refreshed now (cheap: runs on every authenticated request). */
  due(record: SessionRecord, now: number): boolean {
    const at = record.tokens.refreshAt ?? record.tokens.accessTokenExpiresAt;
    if (at === undefined || record.tokens.refreshToken === undefined || now < at) return false;
    if (this.idpDown && (now < this.idpPausedUntil || (this.probe !== undefined && this.probe !== record.id))) return false;
    const paused = this.pausedUntil.get(record.id);
    return paused === undefined || now >= paused;
  }

  refresh(record: SessionRecord, requestId: string): Promise<RefreshOutcome> {
    let p = this.inFlight.get(record.id);
    if (!p) {
      if (this.idpDown && this.probe === undefined) this.probe = record.id;
      p = this.run(record, requestId).finally(() => {
        this.inFlight.delete(record.id);
        if (this.probe === record.id) this.probe = undefined;
      });
      this.inFlight.set(record.id, p);
    }
    return p;
  }

  /** The IdP answered a refresh (a new token or a refusal): refreshes are tried again as they come due. */
  private idpAnswered(): void {
    this.idpDown = false;
  }

  private async run(record: SessionRecord, requestId: string): Promise<RefreshOutcome> {
    const { rt } = this;
    // Another replica may have refreshed already: read the record again before spending the refresh token.
    const current = (await rt.sessions.store.get(record.id)) ?? record;
    if (!this.due(current, rt.now())) return { state: 'valid', record: current };
    const started = performance.now();
    let answered = false;
    /** What refused, for the log: the token endpoint, or the userinfo endpoint after it. */
    let step: 'token' | 'userinfo' = 'token';
    try {
      const tokens = await rt.oidc.refresh(current.tokens.refreshToken!);
      answered = true;
      this.idpAnswered();
      // The identity from whichever source has it (oidc/identity.ts): the new ID token's claims replace the old ones
      // entirely, and without one the userinfo endpoint's do: a group removed at the IdP is gone.
      const now = rt.now();
      const refreshed = await rt.identities.refresh(tokens, current.identity, rt.snapshot().compiled.config.idp, now, requestId);
      const { identity, source, userinfoError } = refreshed;
      if (userinfoError !== undefined && isIdpRefusal(userinfoError)) {
        step = 'userinfo';
        throw userinfoError;
      }
      const next: SessionRecord = { ...current, identity, tokens: { ...current.tokens, ...tokenFields(tokens) } };
      // The userinfo endpoint unavailable: the new tokens are kept (the old refresh token may be spent), the identity
      // stays the previous one, and the next refresh (which fetches the claims again) comes after the usual pause.
      if (userinfoError !== undefined) next.tokens.refreshAt = Math.min(next.tokens.refreshAt ?? now + RETRY_AFTER_FAILURE_MS, now + RETRY_AFTER_FAILURE_MS);
      // Ended while the IdP answered (sign-out, back-channel logout, revoke): written only over a live session, in
      // one atomic step (a read-then-write would revive a session deleted in between).
      if (!(await rt.sessions.store.replace(next))) {
        rt.logger.info({ event: 'refresh', result: 'session-ended', requestId, user: current.identity.user });
        return { state: 'ended' };
      }
      this.pausedUntil.delete(record.id);
      if (userinfoError !== undefined) {
        rt.logger.warn({ event: 'refresh', result: 'userinfo-unavailable', requestId, user: identity.user, error: (userinfoError as Error).message, ...idpErrorDetail(userinfoError) });
      } else {
        rt.logger.info({ event: 'refresh', result: 'success', requestId, user: identity.user, groupsChanged: identity.groups.join(',') !== current.identity.groups.join(','), claimsFrom: source });
      }
      return { state: 'valid', record: next };
    } catch (e) {
      // The same rule as the sign-in callback (oidc/client.ts): the IdP answering a 4xx other than 408 and 429 has
      // refused — a JSON OAuth error (`invalid_grant`: the refresh token was revoked, the user disabled or deleted),
      // a `WWW-Authenticate` challenge, a plain-text or HTML 4xx from whatever answers for the IdP. That ends the
      // session (Zero Trust: the IdP no longer vouches for the user). No answer, a timeout, 5xx, 408 or 429 is an
      // outage: the session is kept and the refresh retried later. An error with no HTTP status that is not a
      // network failure (e.g. a 200 that did not validate) is kept too, as before: it is not the IdP saying no.
      //
      // Decision: a 401 `invalid_client` (Drawbridge's own client credentials rejected: a rotated or expired secret)
      // is a refusal too, so it ends every session whose refresh comes due, not just this user's. That is the
      // fail-closed choice: the IdP is refusing to vouch for anyone, and a session must not outlive the IdP's
      // verdict on it. So that the cause is plain (a configuration error, not thousands of users disabled at once),
      // the refusal's log line carries the IdP's status and error (`idpStatus`, `idpError`), and is an `error` line
      // when the IdP refused the client itself.
      const detail = idpErrorDetail(e);
      const subjectChanged = e instanceof SubjectMismatchError;
      // `invalid_grant` comes as a 400 JSON error (ResponseBodyError): a refusal by its status like any other.
      // A refreshed ID token whose signature does not verify (oidc/id-token.ts) ends the session too: fail closed.
      const forged = isIdTokenRejected(e);
      // So does an identity Drawbridge refuses to carry (a user or email grown beyond its limit, oidc/claims.ts).
      const refused = isIdpRefusal(e) || subjectChanged || forged || e instanceof IdentityClaimTooLongError;
      if (refused) {
        this.idpAnswered();
        // The IdP refused the refresh token: the session ends here and now.
        await rt.sessions.store.delete(record.id);
        const clientRefused = detail.idpError === 'invalid_client' || detail.idpStatus === 401 || forged;
        rt.logger.log(clientRefused && (step === 'token' || forged) ? 'error' : 'warn', { event: 'refresh', result: 'refused', requestId, user: current.identity.user, error: (e as Error).message, ...(step === 'userinfo' ? { step } : {}), ...detail });
        return { state: 'ended' };
      }
      this.pausedUntil.set(record.id, rt.now() + RETRY_AFTER_FAILURE_MS);
      // Only the IdP's own slowness pauses everyone (a slow store after a good answer is not the IdP's).
      if (!answered && performance.now() - started >= SLOW_FAILURE_MS) {
        this.idpDown = true;
        this.idpPausedUntil = rt.now() + RETRY_AFTER_FAILURE_MS;
      }
      if (this.pausedUntil.size > 10_000) this.pausedUntil.clear();
      rt.logger.warn({ event: 'refresh', result: 'idp-unavailable', requestId, user: current.identity.user, error: (e as Error).message, ...detail });
      return { state: 'valid', record: current };
    }
  }
}
