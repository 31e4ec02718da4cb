// pages/access-views.ts — the views of just-in-time access (docs/access-requests.md): the 403 page's "Request access"
// form, the page after asking, the approvers' list at /.drawbridge/requests and /me's active grants. Views only.
import { html, type SafeHtml } from './html.js';
import { actions, button, identityCard, layout, safeHref, time, type PageUser } from './views.js';

/** One choice of the duration list: seconds, and how it reads. */
export interface DurationChoice {
  seconds: number;
  label: string;
}

/** The "Request access" part of a 403 page. */
export function requestAccessForm(options: {
  action: string;
  csrfToken: string;
  route: string;
  reasonRequired: boolean;
  durations: readonly DurationChoice[];
  defaultSeconds: number;
  /** Where the page after asking leads back to (the refused address). */
  rd: string;
}): SafeHtml {
  const { action, csrfToken, route, reasonRequired, durations, defaultSeconds, rd } = options;
  return html`<h2>Request access</h2>
<form method="post" action="${safeHref(action)}" id="request-access">
<input type="hidden" name="csrf" value="${csrfToken}">
<input type="hidden" name="route" value="${route}">
<input type="hidden" name="rd" value="${rd}">
<label for="reason">Why do you need access?${reasonRequired ? '' : ' (optional)'}</label>
<textarea id="reason" name="reason" maxlength="500"${reasonRequired ? ' required' : ''}></textarea>
<label for="duration">For how long?</label>
<select id="duration" name="duration">${durations.map((d) => html`<option value="${d.seconds}"${d.seconds === defaultSeconds ? ' selected' : ''}>${d.label}</option>`)}</select>
<div class="actions"><button class="btn primary" type="submit">Request access</button></div>
</form>`;
}

/** After asking: sent to the approvers, granted at once (autoApprove), or already waiting. */
export function accessRequestedPage(options: { route: string; outcome: 'pending' | 'granted' | 'duplicate'; duration: string; backUrl: string; expiresAt?: number; requestId: string }): string {
  const { route, outcome, duration, backUrl, expiresAt, requestId } = options;
  const heading = outcome === 'granted' ? 'Access granted' : outcome === 'pending' ? 'Request sent' : 'Request already waiting';
  const lead =
    outcome === 'granted'
      ? html`You have access to <strong>${route}</strong> until ${time(expiresAt)}.`
      : outcome === 'pending'
        ? html`Your request for <strong>${route}</strong> (${duration}) was sent to its approvers. Try again once one of them has approved it.`
        : html`You already asked for access to <strong>${route}</strong>; an approver has not answered yet.`;
  return layout({ title: heading, tone: 'info', icon: 'check', heading, lead, requestId, body: actions(button(backUrl, outcome === 'granted' ? 'Continue' : 'Back', true)) });
}

/** One pending request on the approvers' page. */
export interface PendingItem {
  id: string;
  route: string;
  user: PageUser;
  reason: string;
  duration: string;
  createdAt: number;
  /** What the signed-in user can do with it. */
  can: 'approve' | 'own' | 'step-up';
  /** `step-up`: where to sign in again to be able to approve. */
  stepUpUrl?: string;
}

/** GET /.drawbridge/requests: the pending requests the signed-in user may approve (and their own, waiting). */
export function requestsPage(options: { user: PageUser; items: readonly PendingItem[]; action: string; csrfToken: string; message?: string }): string {
  const { user, items, action, csrfToken, message } = options;
  return layout({
    title: 'Access requests',
    tone: 'info',
    icon: 'user',
    heading: 'Access requests',
    lead: items.length === 0 ? 'No request is waiting for you.' : 'Requests waiting for an approver. Approving gives temporary access to one route.',
    body: html`${message !== undefined && html`<p class="lead" id="message">${message}</p>`}<h2>Signed in as</h2>
${identityCard(user)}
${items.length > 0 && html`<h2>Pending</h2>`}
${items.map(
  (r) => html`<div class="request" data-request="${r.id}">
<p><strong>${r.user.name || r.user.user}</strong> <span class="muted">(${r.user.user})</span> asks for <strong>${r.route}</strong> for ${r.duration}</p>
<p>${r.reason ? r.reason : html`<span class="muted">No reason given.</span>`}</p>
<p class="muted">Asked ${time(r.createdAt)}</p>
${
  r.can === 'approve'
    ? html`<form method="post" action="${safeHref(action)}"><input type="hidden" name="csrf" value="${csrfToken}"><input type="hidden" name="id" value="${r.id}">
<div class="actions"><button class="btn primary" type="submit" name="decision" value="approve">Approve</button><button class="btn" type="submit" name="decision" value="deny">Deny</button></div></form>`
    : r.can === 'step-up'
      ? html`<p class="muted">Approving this needs a stronger or more recent sign-in.</p>${actions(button(r.stepUpUrl ?? '', 'Sign in again to approve', true))}`
      : html`<p class="muted">Your own request: someone else must approve it.</p>`
}
</div>`,
)}`,
  });
}

/** /me's "Temporary access" section: each active grant with its end and the time left. */
export function grantsSection(grants: ReadonlyArray<{ route: string; expiresAt: number; approver: string; left: string }>): SafeHtml {
  if (grants.length === 0) return html``;
  return html`<h2>Temporary access</h2>
<dl id="grants">${grants.map((g) => html`<dt>${g.route}</dt><dd>until ${time(g.expiresAt)} <span class="muted">(${g.left} left, approved by ${g.approver})</span></dd>`)}</dl>`;
}
