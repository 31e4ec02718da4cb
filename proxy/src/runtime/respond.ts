// runtime/respond.ts — how Drawbridge answers by itself (never through the upstream): pages for browsers, JSON
// for everything else, with no-store, the one set of security headers of its own pages (the Express pages too)
// and HSTS over HTTPS. Errors are answered from the problem catalog through runtime/problem.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import { PAGE_CSP } from '../pages/views.js';
import { peekExchange } from './runtime.js';

/** A browser navigation: GET/HEAD accepting text/html and not an XHR (SPEC §3 step 5). */
export function isBrowser(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const accept = req.headers.accept;
  if (typeof accept !== 'string' || !accept.includes('text/html')) return false;
  return String(req.headers['x-requested-with'] ?? '').toLowerCase() !== 'xmlhttprequest';
}

/**
 * The security headers of every response Drawbridge makes itself: its pages, its JSON, the Express app under
 * /.drawbridge/ (signin/router.ts applies the same object). Never applied to an upstream's responses. Each page sets
 * its own Content-Security-Policy (PAGE_CSP, or one naming the IdP in form-action).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze(helmetHeaders());

// The header set is helmet's (SPEC §3), computed once: helmet's middleware run against a recorder instead of being
// mounted on a router, so the pipeline's pages, its JSON and the Express app send the same set, and the proxied hot
// path never runs a middleware. CSP is per page (PAGE_CSP), HSTS per request (hstsFor); X-Frame-Options is DENY
// (nothing of Drawbridge's is ever framed, not even by itself).
function helmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader() {},
  };
  helmet({ contentSecurityPolicy: false, strictTransportSecurity: false, xFrameOptions: { action: 'deny' }, referrerPolicy: { policy: 'no-referrer' } })(
    {} as never,
    recorder as never,
    () => {},
  );
  return headers;
}

const PAGE_HEADERS = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': PAGE_CSP, ...SECURITY_HEADERS };
const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store', ...SECURITY_HEADERS };

/**
 * The Strict-Transport-Security value for this request's response: the snapshot's (server/hsts.ts) when the
 * request came over HTTPS (a TLS listener, or X-Forwarded-Proto: https from a trusted proxy), else undefined.
 */
export function hstsFor(req: IncomingMessage): string | undefined {
  const x = peekExchange(req);
  return x !== undefined && x.client.scheme === 'https' ? x.snap.hsts : undefined;
}

/** The per-request headers of an answer Drawbridge makes itself: the request id (support quotes it) and HSTS. */
function ownHeaders(res: ServerResponse): Record<string, string> {
  const req = res.req;
  const x = req ? peekExchange(req) : undefined;
  if (!x) return {};
  const hsts = x.client.scheme === 'https' ? x.snap.hsts : undefined;
  return hsts !== undefined ? { 'x-request-id': x.id, 'strict-transport-security': hsts } : { 'x-request-id': x.id };
}

/** Sends one of Drawbridge's HTML pages. */
export function sendPage(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...PAGE_HEADERS, ...ownHeaders(res), ...headers, 'content-length': Buffer.byteLength(html) });
  res.end(res.req?.method === 'HEAD' ? undefined : html);
}

/** Sends a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, ...ownHeaders(res), ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

/** A redirect answered by Drawbridge itself. */
export function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0, ...ownHeaders(res), ...headers });
  res.end();
}
