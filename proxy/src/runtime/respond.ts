// runtime/respond.ts — how Drawbridge answers by itself (never through the upstream): pages for
// browsers, JSON for everything else, with no-store and the strict CSP of its own pages.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PAGE_CSP } from '../pages/views.js';
import { peekExchangeId } from './runtime.js';

/** A browser navigation: GET/HEAD accepting text/html and not an XHR (SPEC §3 step 5). */
export function isBrowser(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const accept = req.headers.accept;
  if (typeof accept !== 'string' || !accept.includes('text/html')) return false;
  return String(req.headers['x-requested-with'] ?? '').toLowerCase() !== 'xmlhttprequest';
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** The request id of a request Drawbridge answers itself (support quotes it; the log has it). */
function requestIdHeader(res: ServerResponse): Record<string, string> {
  const id = res.req ? peekExchangeId(res.req) : undefined;
  return id ? { 'x-request-id': id } : {};
}

/** Sends one of Drawbridge's HTML pages. */
export function sendPage(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...PAGE_HEADERS, ...requestIdHeader(res), ...headers, 'content-length': Buffer.byteLength(html) });
  res.end(res.req?.method === 'HEAD' ? undefined : html);
}

/** Sends a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...requestIdHeader(res), ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

/** A redirect answered by Drawbridge itself. */
export function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0, ...requestIdHeader(res), ...headers });
  res.end();
}
