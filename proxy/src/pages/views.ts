// pages/views.ts — the pages end users see from Drawbridge itself (403, 404, sign-out, /me, ...):
// pure functions from data to a complete HTML document, and the strict CSP those documents are built for.
import { createHash } from 'node:crypto';
import { DrawbridgeError, ERROR_CODES, type ErrorCode } from '../errors.js';
import { html, raw, type HtmlValue, type SafeHtml } from './html.js';

// ---------------------------------------------------------------------------------------------
// Style: ONE inline <style> block. Its SHA-256 goes into the CSP, so the browser applies exactly
// this stylesheet and nothing else (no style attributes, no other blocks, no external sheets).

const CSS = `
:root{color-scheme:light dark;--bg:#f2f4f7;--card:#fff;--text:#151922;--muted:#535b69;--line:#e1e5eb;--accent:#2150c9;--accent-hover:#1a40a8;--on-accent:#fff;--soft:#f3f5f8;--tone:#2150c9;--tone-bg:#eaf0ff}
.tone-warn{--tone:#c26200;--tone-bg:#fff4e5}
.tone-error{--tone:#c8281e;--tone-bg:#fdeeec}
@media (prefers-color-scheme:dark){
:root{--bg:#0d1016;--card:#161a22;--text:#e8ebf1;--muted:#a4acba;--line:#2a303b;--accent:#8cb0ff;--accent-hover:#a9c3ff;--on-accent:#0a1022;--soft:#1d222c;--tone:#8cb0ff;--tone-bg:#1b2541}
.tone-warn{--tone:#f2b45a;--tone-bg:#33260f}
.tone-error{--tone:#ff8f85;--tone-bg:#3b1c1a}
}
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;justify-content:center;padding:32px 16px 56px;background:var(--bg);color:var(--text);font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans","Liberation Sans",Arial,sans-serif}
header{margin:0 0 20px}
.brand{display:flex;align-items:center;gap:10px;font-weight:700;font-size:1.0625rem;letter-spacing:-.01em}
.brand svg{width:30px;height:30px;flex:none}
main{position:relative;overflow:hidden;width:100%;max-width:580px;background:var(--card);border:1px solid var(--line);border-radius:16px;padding:36px 36px 32px;box-shadow:0 1px 2px rgba(16,24,40,.05),0 12px 32px -8px rgba(16,24,40,.12)}
.band{position:absolute;top:0;left:0;right:0;height:4px;background:var(--tone)}
.top{display:flex;align-items:center;justify-content:space-between;gap:12px;margin:0 0 18px}
.icon{display:grid;place-items:center;width:48px;height:48px;border-radius:50%;background:var(--tone-bg);color:var(--tone);flex:none}
.icon svg{width:26px;height:26px}
.status{margin:0;font-size:.8125rem;color:var(--muted);font-variant-numeric:tabular-nums;letter-spacing:.02em}
h1{font-size:1.625rem;line-height:1.25;letter-spacing:-.02em;margin:0 0 10px}
h2{font-size:.75rem;font-weight:700;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:28px 0 10px}
p{margin:0 0 12px}
.lead{font-size:1.0625rem;margin:0 0 16px}
a{color:var(--accent);text-underline-offset:2px}
a:hover{color:var(--accent-hover)}
:focus-visible{outline:3px solid var(--accent);outline-offset:3px;border-radius:6px}
code{font:.875em/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;background:var(--soft);border:1px solid var(--line);padding:1px 6px;border-radius:6px;overflow-wrap:anywhere}
.who{display:flex;align-items:center;gap:14px;padding:14px 16px;border:1px solid var(--line);border-radius:12px}
.avatar{display:grid;place-items:center;width:40px;height:40px;border-radius:50%;background:var(--soft);border:1px solid var(--line);font-weight:700;flex:none;text-transform:uppercase}
.who p{margin:0;overflow-wrap:anywhere;line-height:1.4}
.who .sub{color:var(--muted);font-size:.9375rem}
.reasons{list-style:none;margin:0;padding:0}
.reasons li{padding:12px 16px;border-radius:10px;background:var(--tone-bg);border-left:4px solid var(--tone);overflow-wrap:anywhere}
.reasons li+li{margin-top:8px}
.detail{display:block;margin-top:4px;font-size:.9375rem}
.steps{margin:0;padding-left:22px}
.steps li+li{margin-top:6px}
.note{padding:12px 16px;border-radius:10px;background:var(--soft);border:1px solid var(--line);overflow-wrap:anywhere}
.note code{background:none;border:0;padding:0}
dl{display:grid;grid-template-columns:10rem 1fr;gap:8px 20px;margin:0}
dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere}
.chips{display:flex;flex-wrap:wrap;gap:6px;list-style:none;margin:0;padding:0}
.chips li{font-size:.875rem;line-height:1.4;padding:3px 10px;border-radius:999px;background:var(--soft);border:1px solid var(--line);overflow-wrap:anywhere}
.muted{color:var(--muted)}
.actions{display:flex;flex-wrap:wrap;gap:12px;margin:28px 0 0}
.btn{display:inline-flex;align-items:center;justify-content:center;min-height:44px;padding:10px 20px;border-radius:10px;border:1px solid var(--line);background:var(--card);color:var(--text);font:inherit;font-weight:600;line-height:1.2;text-decoration:none;cursor:pointer}
.btn:hover{background:var(--soft);color:var(--text)}
.primary{background:var(--accent);border-color:var(--accent);color:var(--on-accent)}
.primary:hover{background:var(--accent-hover);border-color:var(--accent-hover);color:var(--on-accent)}
form{margin:0}
label{display:block;font-weight:600;margin:14px 0 6px}
textarea,select{width:100%;font:inherit;color:var(--text);background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 12px}
textarea{min-height:80px;resize:vertical}
.request{border:1px solid var(--line);border-radius:12px;padding:14px 16px;margin:0 0 12px}
.request p{margin:0 0 6px}
.rid{margin:28px 0 0;padding-top:16px;border-top:1px solid var(--line);font-size:.875rem;color:var(--muted)}
.rid code{color:var(--text);user-select:all;-webkit-user-select:all}
@media (max-width:480px){
body{justify-content:flex-start;padding:20px 12px 32px}
main{padding:24px 20px;border-radius:14px}
h1{font-size:1.375rem}
dl{grid-template-columns:1fr;gap:0}
dd{margin:0 0 10px}
.actions .btn{flex:1 1 100%}
}
`
  .trim()
  .split('\n')
  .join('');

const STYLE_HASH = `sha256-${createHash('sha256').update(CSS, 'utf8').digest('base64')}`;

// Local times: /me renders every time as UTC inside <time datetime>, and this ONE inline script, allowed by its
// SHA-256 in that page's CSP only (never 'unsafe-inline'), rewrites them in the browser's own time zone. It writes
// text only (textContent), so nothing it reads can become markup; without script the UTC text stays.
const LOCAL_TIME_JS =
  '(function(){try{var f=new Intl.DateTimeFormat(undefined,{year:"numeric",month:"short",day:"numeric",hour:"2-digit",minute:"2-digit",hourCycle:"h23",timeZoneName:"short"});' +
  'document.querySelectorAll("time[datetime]").forEach(function(t){var d=new Date(t.getAttribute("datetime"));if(isNaN(d.getTime()))return;t.title=t.textContent;t.textContent=f.format(d)});' +
  'var z=f.resolvedOptions().timeZone,n=document.getElementById("tz");if(n&&z)n.textContent="Times are shown in your time zone ("+z+")."}catch(e){}})();';

/** The SHA-256 source expression of the local-time script of /me (in its CSP's script-src). */
export const LOCAL_TIME_SCRIPT_HASH = `sha256-${createHash('sha256').update(LOCAL_TIME_JS, 'utf8').digest('base64')}`;

/**
 * The Content-Security-Policy for these pages, with extra origins allowed as form targets: sign-out
 * posts to the same origin but answers with a redirect to the IdP, and Chromium applies
 * `form-action` to that redirect too. Each extra entry may be a URL or an origin; only its origin is used.
 */
export function pageCsp(extraFormActions: readonly string[] = [], options: { localTime?: boolean } = {}): string {
  const formAction = new Set(["'self'", ...extraFormActions.map(formActionOrigin)]);
  return [
    "default-src 'none'",
    ...(options.localTime ? [`script-src '${LOCAL_TIME_SCRIPT_HASH}'`] : []),
    `style-src '${STYLE_HASH}'`,
    'img-src data:',
    `form-action ${[...formAction].join(' ')}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function formActionOrigin(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  // The origin is re-serialised by URL, so nothing like "; script-src *" can reach the header.
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new DrawbridgeError('DRB_INTERNAL', `page CSP: form-action entry is not an http(s) URL: ${JSON.stringify(url)}`);
  }
  return parsed.origin;
}

/** The CSP every page of this module is rendered for: no scripts, no external assets, only this stylesheet. */
export const PAGE_CSP = pageCsp();
/** The CSP of {@link mePage}: PAGE_CSP and its one local-time script, by hash. */
export const ME_PAGE_CSP = pageCsp([], { localTime: true });

// ---------------------------------------------------------------------------------------------
// Icons: inline SVG (24×24, stroked with currentColor), decorative, so hidden from assistive tech.

const ICON_PATHS = {
  lock: '<rect x="5" y="10.5" width="14" height="10" rx="2.5"/><path d="M8.5 10.5V7.5a3.5 3.5 0 0 1 7 0v3M12 14.5v2"/>',
  shield: '<path d="M12 3 5 5.8v5.4c0 4.3 2.9 8 7 9.8 4.1-1.8 7-5.5 7-9.8V5.8L12 3z"/><path d="m9 12 2 2 4-4"/>',
  alert: '<path d="M10.3 4.2 2.8 17.5A2 2 0 0 0 4.5 20.5h15a2 2 0 0 0 1.7-3L13.7 4.2a2 2 0 0 0-3.4 0z"/><path d="M12 9.5v4M12 17h.01"/>',
  search: '<circle cx="11" cy="11" r="6.5"/><path d="m20 20-4.3-4.3M9 9l4 4M13 9l-4 4"/>',
  plug: '<path d="M9 3v5M15 3v5M6.5 8h11v3.5a5.5 5.5 0 0 1-11 0V8zM12 17v4"/>',
  clock: '<circle cx="12" cy="12" r="8.5"/><path d="M12 7.5V12l3 2"/>',
  pause: '<circle cx="12" cy="12" r="8.5"/><path d="M10 9v6M14 9v6"/>',
  door: '<path d="M14 4H6.5A1.5 1.5 0 0 0 5 5.5v13A1.5 1.5 0 0 0 6.5 20H14M10 12h10M16.5 8.5 20 12l-3.5 3.5"/>',
  check: '<circle cx="12" cy="12" r="8.5"/><path d="m8.5 12.2 2.4 2.4 4.6-5"/>',
  user: '<circle cx="12" cy="8.5" r="3.5"/><path d="M5 20a7 7 0 0 1 14 0"/>',
} as const;

/** The decorative icon shown at the top of a page's card. */
export type IconName = keyof typeof ICON_PATHS;

function icon(name: IconName): SafeHtml {
  return raw(
    `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${ICON_PATHS[name]}</svg>`,
  );
}

// The wordmark's mark: a gatehouse with its bridge lowered, white on the brand blue.
const MARK_BODY =
  '<rect width="32" height="32" rx="8" fill="#2150c9"/><path d="M8 24V9h3v2.5h3V9h4v2.5h3V9h3v15M13 24v-4a3 3 0 0 1 6 0v4M5.5 24h21" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>';
const MARK = raw(`<svg viewBox="0 0 32 32" aria-hidden="true" focusable="false">${MARK_BODY}</svg>`);
// A data: favicon (allowed by img-src data:) so the browser never asks for /favicon.ico.
const FAVICON = `data:image/svg+xml;base64,${Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">${MARK_BODY}</svg>`).toString('base64')}`;

// ---------------------------------------------------------------------------------------------
// Layout.

/** How a page feels: its accent colour and default icon. */
export type Tone = 'info' | 'warn' | 'error';

const TONE_ICON: Record<Tone, IconName> = { info: 'check', warn: 'alert', error: 'alert' };

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Options of {@link layout}. Text values are escaped; pass {@link html} fragments for markup. */
export interface LayoutOptions {
  /** The document title (the browser tab), before " · Drawbridge". */
  title: string;
  /** The HTTP status, shown discreetly on the card; omit for 200 pages. */
  status?: number;
  /** The page's one `<h1>`. */
  heading: string;
  /** One sentence under the heading. */
  lead?: HtmlValue;
  body: HtmlValue;
  /** Shown at the bottom of the card, easy to select and quote to an administrator. */
  requestId?: string;
  /** A route's internal name, shown beside the request ID for support when the page calls the route by its title. */
  routeName?: string;
  tone: Tone;
  /** Overrides the tone's default icon. */
  icon?: IconName;
}

/** The one page shell: a centred card with the wordmark, status, heading, body and request id. */
export function layout(options: LayoutOptions): string {
  const { title, status, heading, lead, body, requestId, tone } = options;
  const statusLine = status === undefined ? '' : `HTTP ${status}${STATUS_TEXT[status] ? ` · ${STATUS_TEXT[status]}` : ''}`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="color-scheme" content="light dark">
<title>${title} · Drawbridge</title>
<link rel="icon" href="${FAVICON}">
<style>${raw(CSS)}</style>
</head>
<body class="tone-${tone}">
<header><span class="brand">${MARK}Drawbridge</span></header>
<main>
<div class="band"></div>
<div class="top"><span class="icon">${icon(options.icon ?? TONE_ICON[tone])}</span>${statusLine && html`<p class="status">${statusLine}</p>`}</div>
<h1>${heading}</h1>
${lead === undefined ? '' : html`<p class="lead">${lead}</p>`}
${body}
${requestId === undefined ? '' : html`<p class="rid">Request ID <code>${requestId}</code>${options.routeName !== undefined && html` · Route <code>${options.routeName}</code>`}</p>`}
</main>
</body>
</html>
`.toString();
}

// ---------------------------------------------------------------------------------------------
// Shared pieces.

/** Who a page is about: the user claim, with email and display name when known. */
export interface PageUser {
  user: string;
  email?: string;
  name?: string;
}

// Links on these pages come from Drawbridge itself, but none may ever be a javascript:/data: URL or a
// protocol-relative one (browsers drop tabs and newlines from URLs, so any control character is refused).
export function safeHref(url: string): string {
  if (/[^\u0021-\u007e\u00a0-\uffff]|\\/.test(url)) return '/';
  return /^(?:https?:\/\/|\/(?!\/)|[?#])/i.test(url) ? url : '/';
}

export function identityCard(who: PageUser, groups?: readonly string[]): SafeHtml {
  const initial = Array.from((who.name || who.user).trim())[0] ?? '?';
  const secondary = [who.name ? who.user : undefined, who.email].filter((s): s is string => !!s);
  const shown = groups?.slice(0, 12) ?? [];
  const hidden = (groups?.length ?? 0) - shown.length;
  return html`<div class="who"><span class="avatar" aria-hidden="true">${initial}</span><div>
<p><strong>${who.name || who.user}</strong></p>
${secondary.length > 0 && html`<p class="sub">${secondary.join(' · ')}</p>`}
${shown.length > 0 && html`<p class="sub">Groups: ${shown.join(', ')}${hidden > 0 && ` and ${hidden} more`}</p>`}
</div></div>`;
}

export function actions(...links: Array<SafeHtml | false | undefined>): SafeHtml {
  return html`<div class="actions">${links}</div>`;
}

export function button(href: string, label: string, primary = false): SafeHtml {
  return html`<a class="btn${primary ? ' primary' : ''}" href="${safeHref(href)}">${label}</a>`;
}

// An empty href reloads the current address: retrying needs no script and reveals no URL.
const RELOAD = html`<a class="btn primary" href="">Try again</a>`;

function afterSeconds(sec: number): string {
  if (sec < 60) return `${Math.max(1, Math.ceil(sec))} second${Math.ceil(sec) === 1 ? '' : 's'}`;
  const min = Math.ceil(sec / 60);
  return `${min} minute${min === 1 ? '' : 's'}`;
}

export function time(ms: number | undefined): SafeHtml {
  // Date's range is ±8.64e15 ms; outside it toISOString throws.
  if (ms === undefined || !(Math.abs(ms) <= 8.64e15)) return html`<span class="muted">unknown</span>`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC</time>`;
}

// ---------------------------------------------------------------------------------------------
// Pages.

/** A route as pages name it: its `title` when it has one (the name then goes to the support line), else its name. */
export interface PageRoute {
  name: string;
  title?: string;
}

/** The words a page calls a route by, and the name for the support line (only when the words are not the name). */
export function routeWords(route: string | PageRoute): { words: string; routeName?: string } {
  if (typeof route === 'string') return { words: route };
  return route.title === undefined || route.title === route.name ? { words: route.name } : { words: route.title, routeName: route.name };
}

/** Options of {@link forbiddenPage}. */
export interface ForbiddenPageOptions {
  user?: PageUser & { groups?: readonly string[] };
  /** The route refused: its name, or its name and the title users know it by. */
  route: string | PageRoute;
  /** The failing rules, in plain words (from the reason catalog), with an optional detail each. */
  reasons: ReadonlyArray<{ code: string; text: string; detail?: string }>;
  requestId: string;
  signOutUrl: string;
  homeUrl?: string;
  /** The route takes access requests (access/): the "Request access" form (pages/access-views.ts). */
  requestAccess?: SafeHtml;
}

/** 403: who you are signed in as, which rule refused you in plain words, and what to do about it. */
export function forbiddenPage(options: ForbiddenPageOptions): string {
  const { user, reasons, requestId, signOutUrl, homeUrl } = options;
  const { words, routeName } = routeWords(options.route);
  return layout({
    title: ERROR_CODES.DRB_FORBIDDEN.title,
    status: 403,
    tone: 'error',
    icon: 'lock',
    heading: 'You don’t have access to this page',
    lead: user
      ? html`You’re signed in, but this account isn’t allowed to open <strong>${words}</strong>.`
      : html`This request isn’t allowed to open <strong>${words}</strong>.`,
    requestId,
    ...(routeName !== undefined ? { routeName } : {}),
    body: html`${user && html`<h2>Signed in as</h2>${identityCard(user, user.groups)}`}
<h2>Why</h2>
<ul class="reasons">${reasons.map((r) => html`<li>${r.text}${r.detail && html`<span class="detail">${r.detail}</span>`}</li>`)}</ul>
${options.requestAccess ?? ''}<h2>What you can do</h2>
<ul class="steps">
<li>If you need access, ask your administrator. Give them the request ID below so they can see exactly what happened.</li>
<li>If you meant to use another account, <a href="${safeHref(signOutUrl)}">sign out</a> and sign in as someone else.</li>
</ul>
${actions(button(signOutUrl, 'Sign in as someone else', true), homeUrl !== undefined && button(homeUrl, 'Go to the home page'))}`,
  });
}

/** 404: no application is served at this address (the upstream was never contacted). */
export function notFoundPage(options: { host: string; path: string; requestId: string }): string {
  return layout({
    title: ERROR_CODES.DRB_NO_ROUTE.title,
    status: 404,
    tone: 'warn',
    icon: 'search',
    heading: 'There’s nothing at this address',
    lead: 'No application is set up here. The link may be mistyped or out of date.',
    requestId: options.requestId,
    body: html`<p class="note"><code>${options.host}${options.path}</code></p>
<p>Check the address, or ask whoever sent you the link. If you think an application should be here, tell your administrator.</p>`,
  });
}

/**
 * Any problem of the catalog (errors.ts) without a page of its own (an invalid bearer token, an internal error):
 * its title, and a plain sentence; the request id finds the details in the log.
 */
export function problemPage(options: { code: ErrorCode; requestId: string; status?: number }): string {
  const spec = ERROR_CODES[options.code];
  const status = options.status ?? spec.status;
  return layout({
    title: spec.title,
    status,
    tone: status >= 500 ? 'error' : 'warn',
    heading: spec.title,
    lead: status >= 500 ? 'Something went wrong on our side while handling this request.' : 'This request can’t be handled as it is.',
    requestId: options.requestId,
    body: html`<p>If it keeps happening, tell your administrator and include the request ID below.</p>`,
  });
}

/**
 * 403 before anything else (tls.clientCert: required): this site needs a device certificate the browser did not
 * present, or presented one that is not accepted. A page rather than a refused handshake: browsers show a refused
 * handshake as an opaque connection error that names neither the cause nor who can fix it.
 */
export function deviceRequiredPage(options: { presented: boolean; requestId: string }): string {
  return layout({
    title: ERROR_CODES.DRB_DEVICE_REQUIRED.title,
    status: 403,
    tone: 'warn',
    heading: 'This site needs your device certificate',
    lead: options.presented
      ? 'Your browser presented a certificate, but it is not one of this organization’s device certificates, or it has expired or been revoked.'
      : 'This site only answers devices that present one of this organization’s device certificates, and your browser presented none.',
    requestId: options.requestId,
    body: html`<h2>What to do</h2>
<p>Open this page on a device your organization has enrolled, or ask your administrator to install a device certificate on this one. If your browser asked you to choose a certificate, choose your organization’s; close every window of the browser and try again to be asked once more.</p>
<p>If your device certificate was lost or stolen, tell your administrator so it is revoked, and include the request ID below.</p>`,
  });
}

/** 400: the request was malformed and refused before it reached any application. */
export function badRequestPage(options: { reason: string; requestId: string }): string {
  return layout({
    title: ERROR_CODES.DRB_BAD_REQUEST.title,
    status: 400,
    tone: 'warn',
    heading: 'This request can’t be handled',
    lead: 'Something in the address or the request is malformed, so it was stopped before reaching the application.',
    requestId: options.requestId,
    body: html`<h2>What was wrong</h2>
<p class="note">${options.reason}</p>
<p>Check the link you followed. If it came from an application, tell your administrator and include the request ID.</p>`,
  });
}

/** 405: this address does not accept that kind of request. */
export function methodNotAllowedPage(options: { method: string; requestId: string }): string {
  return layout({
    title: ERROR_CODES.DRB_METHOD_NOT_ALLOWED.title,
    status: 405,
    tone: 'warn',
    heading: 'This kind of request isn’t allowed here',
    lead: html`This address doesn’t accept <code>${options.method}</code> requests.`,
    requestId: options.requestId,
    body: html`<p>If you got here by submitting a form or pressing a button, go back and try again. If it keeps happening, tell your administrator and include the request ID.</p>`,
  });
}

/** 502/504: the application behind the route is down or too slow. Takes no address, so it can leak none. */
export function upstreamErrorPage(options: { status: 502 | 504; requestId: string }): string {
  const slow = options.status === 504;
  return layout({
    title: ERROR_CODES[slow ? 'DRB_UPSTREAM_TIMEOUT' : 'DRB_UPSTREAM_UNAVAILABLE'].title,
    status: slow ? 504 : 502,
    tone: 'warn',
    icon: slow ? 'clock' : 'plug',
    heading: slow ? 'The application is taking too long' : 'The application isn’t available',
    lead: slow
      ? 'You’re allowed in, but the application didn’t answer in time.'
      : 'You’re allowed in, but the application behind this address couldn’t be reached. It may be restarting or down.',
    requestId: options.requestId,
    body: html`<p>Wait a moment, then try again. If it keeps happening, tell your administrator and include the request ID.</p>
${actions(RELOAD)}`,
  });
}

/** 503: the identity provider (sign-in) or the session store is unreachable; Drawbridge fails closed. */
export function unavailablePage(options: { what: 'idp' | 'store'; requestId: string; retryAfterSec?: number }): string {
  const { what, requestId, retryAfterSec } = options;
  const idp = what === 'idp';
  const when =
    retryAfterSec !== undefined && Number.isFinite(retryAfterSec) && retryAfterSec > 0
      ? `Please try again in about ${afterSeconds(retryAfterSec)}.`
      : 'Please try again in a few minutes.';
  return layout({
    title: ERROR_CODES[idp ? 'DRB_IDP_UNAVAILABLE' : 'DRB_STORE_UNAVAILABLE'].title,
    status: 503,
    tone: 'warn',
    icon: 'pause',
    heading: idp ? 'Sign-in is temporarily unavailable' : 'Sessions are temporarily unavailable',
    lead: idp
      ? 'Drawbridge can’t reach the identity provider right now, so it can’t sign you in.'
      : 'Drawbridge can’t check your session right now, so it can’t let you in.',
    requestId,
    body: html`<p>${when} This is a problem on our side, not something you did.</p>
${idp && html`<p class="muted">Applications you’re already signed in to keep working.</p>`}
${actions(RELOAD)}`,
  });
}

/**
 * The IdP refuses Drawbridge itself (invalid_client, unauthorized_client, an issuer mismatch...): a configuration
 * error. Unlike the 503 page it promises nothing: trying again will not help until an administrator fixes it.
 */
export function idpMisconfiguredPage(options: { requestId: string }): string {
  return layout({
    title: ERROR_CODES.DRB_IDP_MISCONFIGURED.title,
    status: 502,
    tone: 'error',
    icon: 'alert',
    heading: 'Sign-in is not set up correctly',
    lead: 'The identity provider refused Drawbridge’s sign-in request because of a configuration problem.',
    requestId: options.requestId,
    body: html`<p>This isn’t something you did, and trying again won’t help: an administrator must fix the configuration of Drawbridge or of the identity provider.</p>
<p>Tell your administrator and include the request ID below; Drawbridge’s log says exactly what to fix.</p>`,
  });
}

/** The sign-in could not be completed (bad callback, refused by the IdP...); offers to start over. */
export function signInErrorPage(options: { message: string; requestId: string; retryUrl: string; status?: number }): string {
  return layout({
    title: ERROR_CODES.DRB_SIGN_IN_FAILED.title,
    status: options.status,
    tone: 'error',
    heading: 'Sign-in didn’t complete',
    lead: 'Something went wrong while signing you in, so you aren’t signed in yet.',
    requestId: options.requestId,
    body: html`<h2>What happened</h2>
<p class="note">${options.message}</p>
<p>Starting again usually fixes it. If it doesn’t, tell your administrator and include the request ID.</p>
${actions(button(options.retryUrl, 'Sign in again', true))}`,
  });
}

/** 401: the route needs a stronger or fresher sign-in than the one the user just completed. */
export function stepUpFailedPage(options: {
  user: string | PageUser;
  /** What the route needs, in plain words ("a sign-in with a second factor in the last 15 minutes"). */
  needs: string;
  requestId: string;
  signOutUrl: string;
  retryUrl?: string;
  /** The route that asked for the step-up, when known: the lead names it by its title. */
  route?: PageRoute;
}): string {
  const { needs, requestId, signOutUrl, retryUrl } = options;
  const user = typeof options.user === 'string' ? { user: options.user } : options.user;
  const named = options.route && routeWords(options.route);
  return layout({
    title: ERROR_CODES.DRB_STEP_UP_FAILED.title,
    status: 401,
    tone: 'warn',
    icon: 'shield',
    heading: 'This page needs a stronger sign-in',
    lead: named ? html`Your sign-in worked, but it doesn’t meet what <strong>${named.words}</strong> asks for.` : 'Your sign-in worked, but it doesn’t meet what this page asks for.',
    requestId,
    ...(named?.routeName !== undefined ? { routeName: named.routeName } : {}),
    body: html`<h2>This page needs</h2>
<ul class="reasons"><li>${needs}</li></ul>
<h2>Signed in as</h2>
${identityCard(user)}
<h2>What you can do</h2>
<ul class="steps">
<li>Sign in again and use a stronger method when asked, such as a security key or an authenticator app.</li>
<li>If you can’t, ask your administrator and include the request ID.</li>
</ul>
${actions(retryUrl !== undefined && button(retryUrl, 'Try again', true), button(signOutUrl, 'Sign in as someone else', retryUrl === undefined))}`,
  });
}

/**
 * 401 before a step-up that a change of context asked for (the `context` rule): says what changed ("this session was
 * started on another network") and offers the fresh sign-in, after which the session is bound to where the user is now.
 */
export function contextChangedPage(options: {
  user: PageUser;
  /** What changed, in plain words (the reasons' sentences). */
  changes: ReadonlyArray<{ text: string; detail?: string }>;
  signInUrl: string;
  signOutUrl: string;
  requestId: string;
  route: string | PageRoute;
}): string {
  const { user, changes, signInUrl, signOutUrl, requestId } = options;
  const { words, routeName } = routeWords(options.route);
  return layout({
    title: ERROR_CODES.DRB_STEP_UP.title,
    status: 401,
    tone: 'warn',
    icon: 'shield',
    heading: 'Please sign in again',
    lead: html`<strong>${words}</strong> checks that a session is used where it was started, and something changed.`,
    requestId,
    ...(routeName !== undefined ? { routeName } : {}),
    body: html`<h2>What changed</h2>
<ul class="reasons">${changes.map((r) => html`<li>${r.text}${r.detail && html`<span class="detail">${r.detail}</span>`}</li>`)}</ul>
<h2>Signed in as</h2>
${identityCard(user)}
<h2>What you can do</h2>
<ul class="steps">
<li>If you moved (another network, another browser), sign in again: the session then continues from here.</li>
<li>If you did not, someone else may be using your session: sign out, and tell your administrator with the request ID.</li>
</ul>
${actions(button(signInUrl, 'Sign in again', true), button(signOutUrl, 'Sign out'))}`,
  });
}

/** GET /.drawbridge/sign_out: confirm before the POST (with its CSRF token) ends the session. */
export function signOutConfirmPage(options: { user: PageUser; action: string; csrfToken: string; returnTo?: string }): string {
  const { user, action, csrfToken, returnTo } = options;
  return layout({
    title: 'Sign out',
    tone: 'info',
    icon: 'door',
    heading: 'Sign out?',
    lead: 'This ends your session in every application behind Drawbridge, and at your identity provider.',
    body: html`<h2>Signed in as</h2>
${identityCard(user)}
<form method="post" action="${safeHref(action)}">
<input type="hidden" name="csrf" value="${csrfToken}">
${returnTo !== undefined && html`<input type="hidden" name="rd" value="${returnTo}">`}
<div class="actions"><button class="btn primary" type="submit">Sign out</button>${button(returnTo ?? '/', 'Cancel')}</div>
</form>`,
  });
}

/**
 * A step-up came back as another user than the session's: nothing switched yet. The form (a POST with a one-time code,
 * bound to this browser) replaces the session with the new user's; "Go back" keeps the session as it is.
 */
export function userSwitchPage(options: { current: PageUser; signedIn: PageUser; action: string; code: string; backUrl: string }): string {
  const { current, signedIn, action, code, backUrl } = options;
  return layout({
    title: 'Different user',
    tone: 'warn',
    icon: 'alert',
    heading: 'You signed in as a different user',
    lead: `This extra sign-in was asked of ${current.email ?? current.user}, but your identity provider signed you in as ${signedIn.email ?? signedIn.user}. Drawbridge has not switched users: choose.`,
    body: html`<h2>Signed in at your identity provider as</h2>
${identityCard(signedIn)}
<h2>The extra sign-in was for</h2>
${identityCard(current)}
<form method="post" action="${safeHref(action)}">
<input type="hidden" name="code" value="${code}">
<div class="actions"><button class="btn primary" type="submit">Continue as ${signedIn.email ?? signedIn.user}</button>${button(backUrl, `Go back as ${current.email ?? current.user}`)}</div>
</form>`,
  });
}

/**
 * After sign-out: the session is gone; offers to sign in again. `notSignedIn`: this browser showed no sign of a session
 * (no session cookie, no sign-out of ours coming back from the IdP): say so, not that a session ended.
 */
export function signedOutPage(options: { signInUrl: string; notSignedIn?: boolean }): string {
  if (options.notSignedIn) {
    return layout({
      title: 'Not signed in',
      tone: 'info',
      icon: 'check',
      heading: 'You’re not signed in',
      lead: 'This browser has no session with Drawbridge, so there was nothing to sign out of.',
      body: actions(button(options.signInUrl, 'Sign in', true)),
    });
  }
  return layout({
    title: 'Signed out',
    tone: 'info',
    icon: 'check',
    heading: 'You’re signed out',
    lead: 'Your session has ended everywhere Drawbridge protects. You can close this tab.',
    body: actions(button(options.signInUrl, 'Sign in again', true)),
  });
}

/** Options of {@link mePage}: the identity and session times (ms since the epoch). Never any token. */
export interface MePageOptions {
  identity: PageUser & {
    groups: readonly string[];
    amr: readonly string[];
    acr?: string;
    /** Seconds since the epoch, as in the ID token. */
    authTime?: number;
  };
  session: { createdAt: number; lastSeenAt: number; expiresAt: number; idleExpiresAt: number };
  signOutUrl: string;
  /** The user's active access grants (pages/access-views.ts `grantsSection`). */
  grants?: SafeHtml;
}

// RFC 8176 authentication method references, in plain words.
const AMR_WORDS: Record<string, string> = {
  pwd: 'password',
  otp: 'one-time code',
  mfa: 'multiple factors',
  hwk: 'hardware key',
  swk: 'software key',
  sms: 'text message',
  tel: 'phone call',
  fpt: 'fingerprint',
  face: 'face recognition',
  iris: 'iris scan',
  sc: 'smart card',
  pin: 'PIN',
  kba: 'security questions',
  user: 'user presence',
  pop: 'proof of possession',
  geo: 'location',
  rba: 'risk-based check',
  retina: 'retina scan',
  vbm: 'voice',
  wia: 'Windows sign-in',
  mca: 'several channels',
};

/** GET /.drawbridge/me: what Drawbridge knows about the signed-in user and their session. */
export function mePage(options: MePageOptions): string {
  // Only the named fields are read, so a token on the identity object can never be shown.
  const { user, email, name, groups, amr, acr, authTime } = options.identity;
  const { createdAt, lastSeenAt, expiresAt, idleExpiresAt } = options.session;
  // hasOwn: an amr of "constructor" must not find Object's.
  const methods = amr.map((m) => html`${Object.hasOwn(AMR_WORDS, m) ? AMR_WORDS[m] : m} <span class="muted">(${m})</span>`);
  return layout({
    title: 'Your session',
    tone: 'info',
    icon: 'user',
    heading: 'Your session',
    lead: 'Who Drawbridge knows you as. Applications behind it receive this identity.',
    body: html`<h2>Identity</h2>
<dl>
${name && html`<dt>Name</dt><dd>${name}</dd>`}
<dt>User</dt><dd>${user}</dd>
${email && html`<dt>Email</dt><dd>${email}</dd>`}
<dt>Groups</dt><dd>${groups.length > 0 ? html`<ul class="chips">${groups.map((g) => html`<li>${g}</li>`)}</ul>` : html`<span class="muted">none</span>`}</dd>
</dl>
<h2>Sign-in</h2>
<dl>
<dt>Methods</dt><dd>${methods.length > 0 ? methods.map((m, i) => html`${i > 0 && ', '}${m}`) : html`<span class="muted">not reported</span>`}</dd>
${acr && html`<dt>Assurance</dt><dd><code>${acr}</code></dd>`}
<dt>Signed in</dt><dd>${time(authTime === undefined ? undefined : authTime * 1000)}</dd>
</dl>
<h2>Session</h2>
<dl>
<dt>Started</dt><dd>${time(createdAt)}</dd>
<dt>Last active</dt><dd>${time(lastSeenAt)}</dd>
<dt>Ends if idle</dt><dd>${time(idleExpiresAt)}</dd>
<dt>Ends at the latest</dt><dd>${time(expiresAt)}</dd>
</dl>
${options.grants ?? ''}<p class="muted" id="tz">Times are in UTC.</p>
${actions(button(options.signOutUrl, 'Sign out', true))}
<script>${raw(LOCAL_TIME_JS)}</script>`,
  });
}
