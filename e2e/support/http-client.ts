// e2e/support/http-client.ts — a tiny browser-like HTTP client for Node tests: a cookie jar kept per
// host, redirects followed on request (or one hop at a time), and a parser for the HTML forms it meets.
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Options of a {@link CookieJarClient}. */
export interface CookieJarClientOptions {
  /** Headers sent with every request unless a request overrides them (e.g. `{ accept: 'text/html' }` to look like a browser). */
  headers?: Record<string, string>;
  /** Extra CA certificates (PEM) trusted for https URLs. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** `false` accepts any server certificate (self-signed test servers). Default true. */
  rejectUnauthorized?: boolean;
  /** Host name → address to connect to, so test host names need no DNS (`{ 'wiki.localhost': '127.0.0.1' }`). */
  resolve?: Record<string, string>;
  /** Redirects followed at most per request (default 20). */
  maxRedirects?: number;
  /** Per-request timeout in ms (default 10 000); the request fails when it passes. */
  timeoutMs?: number;
}

/** Options of one request. */
export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as `application/x-www-form-urlencoded`. */
  form?: Record<string, string> | URLSearchParams;
  /** Sent as `application/json`. */
  json?: unknown;
  /** A raw body (set `content-type` yourself). */
  body?: string | Buffer;
  /** `follow` (default) follows 3xx answers with a Location; `manual` returns the first answer. */
  redirect?: 'manual' | 'follow';
  /** While following, stop before requesting a Location that starts with this string (or matches this test); the 3xx answer is returned. */
  stopAt?: string | ((url: URL) => boolean);
  /** Overrides the client's timeout for this request. */
  timeoutMs?: number;
}

/** An answer (the last one when redirects were followed). */
export interface HttpResponse {
  status: number;
  /** The URL this answer came from. */
  url: string;
  /** Lower-case header names; `set-cookie` is an array. */
  headers: IncomingHttpHeaders;
  /** Header names and values as sent, in order. */
  rawHeaders: string[];
  body: string;
  /** The Location header resolved against `url`, when there is one. */
  location?: string;
  /** Every URL requested for this call, in order (the first is the one asked for). */
  redirects: string[];
  /** The body parsed as JSON. */
  json<T = any>(): T;
}

/** One cookie as the jar keeps it. */
export interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite?: string;
  /** Epoch ms; undefined for a session cookie. */
  expiresAt?: number;
}

/** A form found in an HTML page. */
export interface HtmlForm {
  id?: string;
  /** Absolute when a base URL was given. */
  action: string;
  method: string;
  /** Named `<input>`s with their values; unchecked checkboxes and radios and submit buttons are left out. */
  fields: Record<string, string>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * A cookie-keeping HTTP client for driving sign-in flows from Node tests. Cookies are kept per host
 * name (not per port, as browsers do) with their Path, expiry and Secure flag honoured; the Domain
 * attribute is ignored (every cookie is host-only).
 */
export class CookieJarClient {
  readonly #options: CookieJarClientOptions;
  readonly #jar = new Map<string, StoredCookie[]>();

  constructor(options: CookieJarClientOptions = {}) {
    this.#options = options;
  }

  /** GET `url`. */
  get(url: string | URL, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('GET', url, options);
  }

  /** POST `url` (usually with `form`). */
  post(url: string | URL, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('POST', url, options);
  }

  /** Sends a request with the jar's cookies, stores the cookies it gets, and follows redirects unless told not to. */
  async request(method: string, url: string | URL, options: RequestOptions = {}): Promise<HttpResponse> {
    const visited: string[] = [];
    let target = new URL(url);
    let currentMethod = method.toUpperCase();
    let body = encodeBody(options);
    const maxRedirects = this.#options.maxRedirects ?? 20;
    for (;;) {
      visited.push(target.href);
      const response = await this.#send(currentMethod, target, options, body);
      const follow = options.redirect !== 'manual' && REDIRECT_STATUSES.has(response.status) && response.location;
      if (!follow || !response.location) return { ...response, redirects: visited };
      const next = new URL(response.location);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') return { ...response, redirects: visited };
      if (stopsAt(options.stopAt, next)) return { ...response, redirects: visited };
      if (visited.length > maxRedirects) throw new Error(`more than ${maxRedirects} redirects, last to ${next.href}`);
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && currentMethod === 'POST')) {
        currentMethod = currentMethod === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
      }
      target = next;
    }
  }

  /** The cookies this jar would send to `url`, name → value. */
  cookies(url: string | URL): Record<string, string> {
    return Object.fromEntries(this.#matching(new URL(url)).map((c) => [c.name, c.value]));
  }

  /** Every cookie stored for the host of `url` (also those another path or scheme would get). */
  storedCookies(url: string | URL): StoredCookie[] {
    return [...(this.#jar.get(new URL(url).hostname.toLowerCase()) ?? [])];
  }

  /** Stores a cookie as if `url` had answered with this Set-Cookie header value. */
  setCookie(url: string | URL, setCookie: string): void {
    this.#store(new URL(url), setCookie);
  }

  /** Forgets the cookies of one host, or all of them. */
  clearCookies(host?: string): void {
    if (host) this.#jar.delete(host.toLowerCase());
    else this.#jar.clear();
  }

  #send(method: string, target: URL, options: RequestOptions, body: EncodedBody | undefined): Promise<Omit<HttpResponse, 'redirects'>> {
    const isHttps = target.protocol === 'https:';
    // Keyed by lower-case name so a request's header replaces the client default, whatever its case;
    // the name is sent as the caller spelled it.
    const merged = new Map<string, [string, string]>();
    for (const [name, value] of [...Object.entries(this.#options.headers ?? {}), ...Object.entries(options.headers ?? {})]) {
      merged.set(name.toLowerCase(), [name, value]);
    }
    const cookieHeader = this.#matching(target).map((c) => `${c.name}=${c.value}`).join('; ');
    if (cookieHeader && !merged.has('cookie')) merged.set('cookie', ['cookie', cookieHeader]);
    if (body) {
      if (!merged.has('content-type')) merged.set('content-type', ['content-type', body.contentType]);
      merged.set('content-length', ['content-length', String(Buffer.byteLength(body.data))]);
    }
    const address = this.#options.resolve?.[target.hostname.toLowerCase()];
    if (address && !merged.has('host')) merged.set('host', ['host', target.host]);
    const headers: OutgoingHttpHeaders = Object.fromEntries(merged.values());
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const request = (isHttps ? https : http).request({
        method,
        protocol: target.protocol,
        hostname: address ?? target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port || (isHttps ? 443 : 80),
        path: `${target.pathname}${target.search}`,
        headers,
        agent: false,
        ...(isHttps ? { ca: this.#options.ca, rejectUnauthorized: this.#options.rejectUnauthorized ?? true, servername: target.hostname } : {}),
      });
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`${method} ${target.href}: no answer within ${timeoutMs} ms`)));
      request.on('error', reject);
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          for (const setCookie of response.headers['set-cookie'] ?? []) this.#store(target, setCookie);
          const text = Buffer.concat(chunks).toString('utf8');
          const location = response.headers.location ? new URL(response.headers.location, target).href : undefined;
          resolve({
            status: response.statusCode ?? 0,
            url: target.href,
            headers: response.headers,
            rawHeaders: response.rawHeaders,
            body: text,
            location,
            json: () => JSON.parse(text),
          });
        });
      });
      request.end(body?.data);
    });
  }

  #matching(target: URL): StoredCookie[] {
    const now = Date.now();
    const cookies = (this.#jar.get(target.hostname.toLowerCase()) ?? []).filter(
      (c) => (c.expiresAt === undefined || c.expiresAt > now) && pathMatches(target.pathname, c.path) && (!c.secure || target.protocol === 'https:'),
    );
    return cookies.sort((a, b) => b.path.length - a.path.length);
  }

  #store(origin: URL, header: string): void {
    const [pair = '', ...attributes] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq < 1) return;
    const cookie: StoredCookie = {
      name: pair.slice(0, eq).trim(),
      value: pair.slice(eq + 1).trim(),
      host: origin.hostname.toLowerCase(),
      path: defaultPath(origin.pathname),
      secure: false,
      httpOnly: false,
    };
    let maxAge: number | undefined;
    for (const attribute of attributes) {
      const [rawKey = '', ...rest] = attribute.split('=');
      const key = rawKey.trim().toLowerCase();
      const value = rest.join('=').trim();
      if (key === 'path' && value.startsWith('/')) cookie.path = value;
      else if (key === 'secure') cookie.secure = true;
      else if (key === 'httponly') cookie.httpOnly = true;
      else if (key === 'samesite') cookie.sameSite = value.toLowerCase();
      else if (key === 'max-age' && /^-?\d+$/.test(value)) maxAge = Number(value);
      else if (key === 'expires' && !Number.isNaN(Date.parse(value))) cookie.expiresAt = Date.parse(value);
    }
    // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
    if (maxAge !== undefined) cookie.expiresAt = Date.now() + maxAge * 1000;
    const kept = (this.#jar.get(cookie.host) ?? []).filter((c) => c.name !== cookie.name || c.path !== cookie.path);
    if (cookie.expiresAt === undefined || cookie.expiresAt > Date.now()) kept.push(cookie);
    this.#jar.set(cookie.host, kept);
  }
}

/**
 * Finds the `<form>`s of an HTML page with their named `<input>` values, actions resolved against
 * `baseUrl`. A regex reader meant for the simple server-rendered pages of tests, not arbitrary HTML.
 */
export function parseForms(html: string, baseUrl?: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attributes = parseAttributes(match[1] ?? '');
    const fields: Record<string, string> = {};
    for (const input of (match[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
      const field = parseAttributes(input[1] ?? '');
      const type = (field.type ?? 'text').toLowerCase();
      if (field.name === undefined || type === 'submit' || type === 'button' || type === 'image') continue;
      if ((type === 'checkbox' || type === 'radio') && field.checked === undefined) continue;
      fields[field.name] = field.value ?? (type === 'checkbox' ? 'on' : '');
    }
    const action = attributes.action ?? baseUrl ?? '';
    forms.push({
      id: attributes.id,
      action: baseUrl ? new URL(action, baseUrl).href : action,
      method: (attributes.method ?? 'get').toUpperCase(),
      fields,
    });
  }
  return forms;
}

interface EncodedBody {
  data: string | Buffer;
  contentType: string;
}

function encodeBody(options: RequestOptions): EncodedBody | undefined {
  if (options.form !== undefined) {
    return { data: new URLSearchParams(options.form).toString(), contentType: 'application/x-www-form-urlencoded' };
  }
  if (options.json !== undefined) return { data: JSON.stringify(options.json), contentType: 'application/json' };
  if (options.body !== undefined) return { data: options.body, contentType: 'application/octet-stream' };
  return undefined;
}

function stopsAt(stopAt: RequestOptions['stopAt'], next: URL): boolean {
  if (stopAt === undefined) return false;
  return typeof stopAt === 'string' ? next.href.startsWith(stopAt) : stopAt(next);
}

// RFC 6265 §5.1.4: the directory of the request path.
function defaultPath(pathname: string): string {
  const slash = pathname.lastIndexOf('/');
  return slash <= 0 ? '/' : pathname.slice(0, slash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", apos: "'" };

function parseAttributes(source: string): Record<string, string | undefined> {
  const attributes: Record<string, string | undefined> = {};
  for (const match of source.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    const name = (match[1] ?? '').toLowerCase();
    const value = match[2] ?? match[3] ?? match[4];
    attributes[name] = value === undefined ? '' : value.replace(/&(amp|lt|gt|quot|#39|#x27|apos);/g, (_, e: string) => ENTITIES[e] ?? '');
  }
  return attributes;
}
