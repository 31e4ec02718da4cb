// server/h2.ts — HTTP/2 on the TLS listener (`tls.http2`): the listener's HTTP/2 settings, and the edge that turns
// each HTTP/2 request into the HTTP/1.1 shape the pipeline, the pages and the forwarder read (url, method, Host;
// no pseudo-headers), refusing what has no HTTP/1.1 meaning: `:authority` and Host that disagree, a `:scheme`
// other than https, a header list over limits.maxHeaderSize. nghttp2 already resets malformed streams (unknown,
// duplicate or misplaced pseudo-headers, upper-case names, connection-specific headers, a :path not starting
// with "/", content-length disagreeing with DATA); docs/tls.md "HTTP/2" lists who refuses what.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, SecureServerOptions } from 'node:http2';
import type { Config } from '../schema/config.js';

/** What the TLS listener offers by ALPN with HTTP/2 on, in the server's order of preference. */
export const H2_PROTOCOLS: readonly string[] = ['h2', 'http/1.1'];

/** Streams a client may have open at once on one connection when `tls.http2` is `true`. */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 100;

/** The HTTP/2 settings of the listener, or undefined when it offers HTTP/1.1 only (no `tls`, or `tls.http2: false`). */
export function http2Settings(config: Pick<Config, 'tls'>): { maxConcurrentStreams: number } | undefined {
  const h2 = config.tls?.http2;
  if (config.tls === undefined || h2 === false) return undefined;
  return { maxConcurrentStreams: h2 === true || h2 === undefined ? DEFAULT_MAX_CONCURRENT_STREAMS : h2.maxConcurrentStreams };
}

/**
 * Options for `http2.createSecureServer` beside the TLS ones: HTTP/1.1 on the same listener (ALPN `http/1.1`, or no
 * ALPN at all), no server push, no extended CONNECT (RFC 8441: WebSockets stay on HTTP/1.1), the stream limit, and
 * the header list size announced to the client (enforced by `fromH2` whatever the client acknowledged).
 */
export function http2ServerOptions(settings: { maxConcurrentStreams: number }, maxHeaderSize: number): SecureServerOptions {
  return {
    allowHTTP1: true,
    settings: { maxConcurrentStreams: settings.maxConcurrentStreams, maxHeaderListSize: maxHeaderSize, enablePush: false, enableConnectProtocol: false },
  };
}

/** The per-field overhead of RFC 9113 §6.5.2's header list size (RFC 7541 §4.1). */
const FIELD_OVERHEAD = 32;

const REFUSED = new WeakMap<object, string>();

/** Why the pipeline refuses this HTTP/2 request with 400 (set by `fromH2`), or undefined. */
export function h2Refusal(req: IncomingMessage): string | undefined {
  return REFUSED.get(req);
}

/**
 * Reshapes an HTTP/2 request in place: `url` and `method` from `:path` and `:method`, Host from `:authority`, the
 * pseudo-headers removed from `headers` (so that nothing downstream can forward one), a body without
 * content-length announced as chunked, `res.req` set as node's HTTP/1.1 response has it. Returns `too-large` when the header list exceeds `maxHeaderSize` (431); a request that
 * must be refused with 400 is marked for the pipeline (`h2Refusal`), so it is logged and answered like an HTTP/1.1 one.
 */
export function fromH2(req: IncomingMessage, res: ServerResponse, maxHeaderSize: number): 'ok' | 'too-large' {
  (res as { req?: IncomingMessage }).req = req;
  const raw = req.rawHeaders;
  let size = 0;
  for (let i = 0; i < raw.length; i += 2) size += raw[i]!.length + raw[i + 1]!.length + FIELD_OVERHEAD;
  const headers = req.headers as Record<string, string | string[] | undefined>;
  const method = headers[':method'] as string;
  const path = headers[':path'] as string | undefined;
  const authority = headers[':authority'] as string | undefined;
  const scheme = headers[':scheme'] as string | undefined;
  for (const name of Object.keys(headers)) if (name.charCodeAt(0) === 0x3a) delete headers[name];
  // Own, writable properties over Http2ServerRequest's getters (which read the pseudo-headers just removed): the
  // pipeline rewrites url and replaces headers (forward/strip.ts) before forwarding, as on HTTP/1.1.
  Object.defineProperties(req, {
    url: { value: path ?? '', writable: true, configurable: true, enumerable: true },
    method: { value: method, writable: true, configurable: true, enumerable: true },
    headers: { value: headers, writable: true, configurable: true, enumerable: true },
  });
  // A body without content-length is legal in HTTP/2 (DATA frames delimit it): it is announced as HTTP/1.1 does,
  // chunked, or the forwarder and the pages' body parser would take the request for one without a body.
  const stream = (req as unknown as Http2ServerRequest).stream;
  if (headers['content-length'] === undefined && !stream.endAfterHeaders) headers['transfer-encoding'] = 'chunked';
  if (size > maxHeaderSize) return 'too-large';
  // The request names its host twice: which one would the upstream believe? (HTTP/1.1's absolute-form beside a
  // Host is refused for the same reason.) Exact comparison: any difference is a disagreement.
  if (authority !== undefined && headers.host !== undefined && headers.host !== authority) REFUSED.set(req, ':authority and Host disagree');
  else if (scheme !== 'https') REFUSED.set(req, ':scheme is not https on the TLS listener');
  else if (authority !== undefined) headers.host = authority;
  return 'ok';
}

/**
 * Whether the client already closed (reset) the stream of this request. The edge looks after the frames read with
 * the request's HEADERS are processed: a stream opened and reset in one read (CVE-2023-44487, rapid reset) is
 * dropped before it costs an admission or an upstream request.
 */
export function streamGone(req: IncomingMessage): boolean {
  const stream = (req as unknown as Http2ServerRequest).stream;
  return stream === undefined || stream.closed || stream.destroyed;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Http2EdgeOptions {
  /** limits.maxHeaderSize: the header list size beyond which `tooLarge` answers. */
  maxHeaderSize: number;
  /** limits.requestTimeout (ms, 0 for none): the whole request, body included, as node bounds an HTTP/1.1 one. */
  requestTimeoutMs: number;
  tooLarge: Handler;
}

/**
 * The listener's `request` (and `checkContinue`) handler for both protocols: HTTP/1.1 requests go to `handle` as
 * they come; an HTTP/2 request goes after the frames read with it (`streamGone`), reshaped (`fromH2`), and to
 * `tooLarge` instead when its header list is over `maxHeaderSize`. A stream whose body has not all arrived within
 * `requestTimeoutMs` is answered 408 (or cut, once its answer has started): node's HTTP/1.1 requestTimeout, per
 * stream.
 */
export function http2Edge(handle: Handler, options: Http2EdgeOptions): Handler {
  return (req, res) => {
    if (req.httpVersionMajor !== 2) return handle(req, res);
    setImmediate(() => {
      if (streamGone(req)) return;
      if (fromH2(req, res, options.maxHeaderSize) === 'too-large') return options.tooLarge(req, res);
      if (options.requestTimeoutMs > 0 && !req.complete) bound(req, res, options.requestTimeoutMs);
      handle(req, res);
    });
  };
}

/** Ends a stream whose request is not complete after `ms`. */
function bound(req: IncomingMessage, res: ServerResponse, ms: number): void {
  const timer = setTimeout(() => {
    if (req.complete) return;
    if (!res.headersSent) res.writeHead(408, { 'content-length': '0' }).end();
    else res.destroy();
  }, ms);
  timer.unref();
  const clear = () => clearTimeout(timer);
  req.once('end', clear);
  res.once('close', clear);
}
