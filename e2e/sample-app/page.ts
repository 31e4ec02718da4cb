// e2e/sample-app/page.ts — the sample app's pages: what the request looked like from behind Drawbridge
// (path, identity headers, assertion verdict, every header), and the WebSocket check page.
import type { AssertionResult } from './verify-assertion.js';

/** What the main page shows, also its JSON form. */
export interface PageData {
  method: string;
  path: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  assertion: AssertionResult;
}

/** The identity headers Drawbridge sets by default, in display order. */
export const IDENTITY_HEADERS = ['X-Forwarded-User', 'X-Forwarded-Email', 'X-Forwarded-Groups', 'X-Forwarded-Name'];

function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; color: #111827; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
  h1 { font-size: 1.6rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid #d1d5db; }
  th { width: 16rem; }
  td, code, pre { font-family: ui-monospace, monospace; font-size: .9rem; word-break: break-all; white-space: pre-wrap; }
  .ok { color: #065f46; background: #d1fae5; padding: .5rem .75rem; border-radius: 4px; font-weight: 600; }
  .bad { color: #991b1b; background: #fee2e2; padding: .5rem .75rem; border-radius: 4px; font-weight: 600; }
  .absent { color: #6b7280; font-style: italic; }
`;

function htmlDocument(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

/** The text the page shows for the assertion: exactly "assertion verified", or "assertion NOT verified: <reason>". */
export function assertionText(assertion: AssertionResult): string {
  return assertion.verified ? 'assertion verified' : `assertion NOT verified: ${assertion.error ?? 'unknown reason'}`;
}

/** The main page: request line, identity headers, assertion verdict and claims, all headers as received. */
export function requestPage(data: PageData, rawHeaders: string[]): string {
  const query = data.url.includes('?') ? data.url.slice(data.url.indexOf('?')) : '';
  const identityRows = IDENTITY_HEADERS.map((name) => {
    const value = data.headers[name.toLowerCase()];
    const cell = value === undefined ? '<span class="absent">(not set)</span>' : escapeHtml(Array.isArray(value) ? value.join(', ') : value);
    return `<tr><th scope="row">${name}</th><td id="${name.toLowerCase()}">${cell}</td></tr>`;
  }).join('\n');
  const headerRows: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    headerRows.push(`<tr><th scope="row">${escapeHtml(rawHeaders[i])}</th><td>${escapeHtml(rawHeaders[i + 1])}</td></tr>`);
  }
  const claims = data.assertion.claims ? `<h3>Claims</h3>\n<pre id="assertion-claims">${escapeHtml(JSON.stringify(data.assertion.claims, null, 2))}</pre>` : '';
  return htmlDocument(
    'Sample legacy app',
    `<h1>Sample legacy app</h1>
<p>This page shows what the application received from Drawbridge.</p>
<h2>Request</h2>
<table>
<tr><th scope="row">Method</th><td id="method">${escapeHtml(data.method)}</td></tr>
<tr><th scope="row">Path</th><td id="path">${escapeHtml(data.path)}</td></tr>
<tr><th scope="row">Query</th><td id="query">${query ? escapeHtml(query) : '<span class="absent">(none)</span>'}</td></tr>
</table>
<h2>Identity headers</h2>
<table>
${identityRows}
</table>
<h2>Signed assertion</h2>
<p id="assertion-status" class="${data.assertion.verified ? 'ok' : 'bad'}">${escapeHtml(assertionText(data.assertion))}</p>
${claims}
<h2>All request headers</h2>
<table id="request-headers">
${headerRows.join('\n')}
</table>`,
  );
}

/** The WebSocket check page; its script (served same-origin) fills #ws-status. */
export function wsPage(): string {
  return htmlDocument(
    'WebSocket check',
    `<h1>WebSocket check</h1>
<p>Connects to <code>/ws</code> on this host, sends "ping" and shows the echo.</p>
<p id="ws-status" role="status">connecting…</p>
<script src="/ws-page.js"></script>`,
  );
}

/** The script of the WebSocket check page. */
export const WS_PAGE_SCRIPT = `'use strict';
(function () {
  var status = document.getElementById('ws-status');
  var socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  socket.addEventListener('open', function () { status.textContent = 'open'; socket.send('ping'); });
  socket.addEventListener('message', function (event) { status.textContent = 'echo: ' + event.data; });
  socket.addEventListener('error', function () { status.textContent = 'error'; });
  socket.addEventListener('close', function (event) { if (status.textContent.indexOf('echo: ') !== 0) status.textContent = 'closed (' + event.code + ')'; });
})();
`;
