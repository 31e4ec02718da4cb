// tls/http-challenge.ts — the plain-HTTP listener of `tls.acme` (port 80): answers HTTP-01 challenges
// (`/.well-known/acme-challenge/<token>`) and redirects everything else to HTTPS with 308. It never proxies,
// never signs anyone in, and redirects only to the host names Drawbridge serves (no open redirect).
import http from 'node:http';
import { normalizeHost } from '../url/normalize.js';
import type { AcmeChallenges } from './acme-challenges.js';

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

export interface HttpChallengeOptions {
  challenges: AcmeChallenges;
  /** Whether Drawbridge serves this (normalized, port-less) host name over HTTPS: only those are redirected. */
  serves(hostname: string): boolean;
  /** The port of the HTTPS redirect target (publicUrl's); 443 is left out of the URL. */
  httpsPort: number;
  /** Shared storage (several replicas): a pending HTTP-01 answer another replica stored. */
  lookup?: (token: string) => Promise<{ host: string; keyAuthorization: string } | undefined>;
}

/** What the listener answers a request with: status, headers, body. Pure, so the rules are tested without sockets. */
export function httpChallengeAnswer(method: string | undefined, url: string | undefined, hostHeader: string | undefined, options: HttpChallengeOptions): { status: number; headers: Record<string, string>; body: string } {
  const text = (status: number, body: string) => ({ status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body });
  const host = normalizeHost(hostHeader, 'http');
  // Origin-form only: an absolute-form target (`GET http://evil/ HTTP/1.1`) or `*` is no path on this host.
  if (!host.ok || !url || !url.startsWith('/') || url.startsWith('//')) return text(400, 'Bad Request\n');
  const path = url.split('?')[0];
  if (path.startsWith(CHALLENGE_PREFIX) && (method === 'GET' || method === 'HEAD')) {
    const answer = options.challenges.httpAnswer(host.hostname, path.slice(CHALLENGE_PREFIX.length));
    return answer === undefined ? text(404, 'Not Found\n') : { status: 200, headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' }, body: answer };
  }
  if (!options.serves(host.hostname)) return text(404, 'Not Found\n');
  const port = options.httpsPort === 443 ? '' : `:${options.httpsPort}`;
  // 308 keeps the method and body (a POST stays a POST, and is then checked by the policy like any other request).
  return { status: 308, headers: { location: `https://${host.hostname}${port}${url}`, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: 'Permanent Redirect\n' };
}

/** The port-80 listener's request handler, answering with `httpChallengeAnswer`. */
export function httpChallengeHandler(options: HttpChallengeOptions): http.RequestListener {
  return async (req, res) => {
    let answer = httpChallengeAnswer(req.method, req.url, req.headers.host, options);
    const token = req.url?.startsWith(CHALLENGE_PREFIX) ? req.url.slice(CHALLENGE_PREFIX.length).split('?')[0] : undefined;
    if (answer.status === 404 && token && options.lookup && /^[A-Za-z0-9_-]{16,256}$/.test(token) && (req.method === 'GET' || req.method === 'HEAD')) {
      const host = normalizeHost(req.headers.host, 'http');
      const shared = await options.lookup(token).catch(() => undefined);
      // Bound to the name being validated, as for a local answer.
      if (shared && host.ok && shared.host === host.hostname) answer = { status: 200, headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' }, body: shared.keyAuthorization };
    }
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)), connection: 'close' });
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  };
}

/** Creates the port-80 listener (not yet listening), with short limits: it serves a few bytes a request. */
export function createHttpChallengeServer(handler?: http.RequestListener): http.Server {
  const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 5_000, maxHeaderSize: 8192 }, handler);
  server.keepAliveTimeout = 1000;
  server.timeout = 15_000;
  return server;
}
