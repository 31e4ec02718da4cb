// forward/identity-headers.ts — the headers Drawbridge adds to a forwarded request (SPEC §3 step 6, §6): identity,
// signed assertion, access token, X-Forwarded-For/-Proto/-Host, X-Request-Id, then the route's own edits.
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { DrawbridgeError } from '../errors.js';
import type { Identity } from '../policy/input.js';
import type { Route } from '../routes/compile.js';
import { parseHeaderTemplate, type HeaderTemplate, type Placeholder } from '../routes/header-template.js';
import { HEADERS } from '../header-names.js';

/** Above this many bytes the groups header carries the groups that fit and `x-drawbridge-groups-truncated: 1`. */
export const MAX_GROUPS_HEADER_BYTES = 8192;
/** A `setRequestHeaders` value or Basic user with placeholders longer than this once expanded is not sent. */
export const MAX_TEMPLATE_BYTES = 8192;

/** Per-request values `setIdentityHeaders` adds besides the identity. */
export interface IdentityExtras {
  /** The signed assertion under the configured header name. */
  readonly assertion?: { readonly name: string; readonly value: string } | undefined;
  /** The IdP access token; sent only on `passAccessToken` routes. */
  readonly accessToken?: string | undefined;
  readonly requestId: string;
  /** The socket peer's address: the hop that connected to Drawbridge. */
  readonly clientIp: string;
  /** X-Forwarded-For received from a trusted peer; the peer's address is appended to it. */
  readonly forwardedFor?: string | undefined;
  /** Scheme and host the client used (from trusted X-Forwarded-Proto/-Host, else the connection and Host). */
  readonly proto: 'http' | 'https';
  readonly host: string;
}

// Visible ASCII and space, without `%` (so an unencoded value never reads as an encoded one).
const SAFE_VALUE = /^[\x20-\x24\x26-\x7e]*$/;
// The same without `,`, the groups separator.
const SAFE_GROUP = /^[\x20-\x24\x26-\x2b\x2d-\x7e]*$/;
// Any byte node refuses in a header value (it accepts latin-1, which we never send raw).
const NODE_INVALID = /[^\t\x20-\x7e]/;
const HEX = Array.from({ length: 256 }, (_, i) => `%${i.toString(16).toUpperCase().padStart(2, '0')}`);

function edgeSpace(value: string): boolean {
  // Parsers trim leading and trailing whitespace, which would change the value.
  return value.charCodeAt(0) === 0x20 || value.charCodeAt(value.length - 1) === 0x20;
}

/** Percent-encodes `%`, controls, DEL, non-ASCII (as UTF-8), edge spaces and, for groups, `,`. */
function percentEncode(value: string, comma: boolean): string {
  let out = '';
  const last = value.length - 1;
  for (let i = 0; i <= last; i++) {
    const c = value.charCodeAt(i);
    if ((c > 0x20 && c < 0x7f && c !== 0x25 && !(comma && c === 0x2c)) || (c === 0x20 && i !== 0 && i !== last)) {
      out += value[i];
      continue;
    }
    if (c < 0x80) {
      out += HEX[c];
      continue;
    }
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff && i < last) {
      const low = value.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    // A lone surrogate has no UTF-8 form: U+FFFD, as TextEncoder does.
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x800) out += HEX[0xc0 | (cp >> 6)] + HEX[0x80 | (cp & 0x3f)];
    else if (cp < 0x10000) out += HEX[0xe0 | (cp >> 12)] + HEX[0x80 | ((cp >> 6) & 0x3f)] + HEX[0x80 | (cp & 0x3f)];
    else out += HEX[0xf0 | (cp >> 18)] + HEX[0x80 | ((cp >> 12) & 0x3f)] + HEX[0x80 | ((cp >> 6) & 0x3f)] + HEX[0x80 | (cp & 0x3f)];
  }
  return out;
}

/**
 * A header-safe form of `value`: unchanged when it is visible ASCII and inner spaces without `%`; otherwise
 * percent-encoded (UTF-8, `%` as `%25`, controls, non-ASCII and leading/trailing spaces), so that
 * `decodeURIComponent(encodeHeaderValue(v)) === v` for every v (a lone surrogate becomes U+FFFD).
 */
export function encodeHeaderValue(value: string): string {
  return SAFE_VALUE.test(value) && !edgeSpace(value) ? value : percentEncode(value, false);
}

function encodeGroup(group: string): string {
  return SAFE_GROUP.test(group) && !edgeSpace(group) ? group : percentEncode(group, true);
}

interface EncodedGroups {
  readonly value: string;
  readonly truncated: boolean;
}

// Sessions hand the same groups array to every request of the session: encode it once.
const groupsCache = new WeakMap<readonly string[], EncodedGroups>();

function encodeGroups(groups: readonly string[]): EncodedGroups {
  let cached = groupsCache.get(groups);
  if (cached) return cached;
  let value = '';
  let truncated = false;
  for (const group of groups) {
    const encoded = encodeGroup(group);
    // Encoded groups are ASCII, so string length is the byte count.
    const next = value === '' ? encoded : `${value},${encoded}`;
    if (next.length > MAX_GROUPS_HEADER_BYTES) {
      truncated = true;
      break;
    }
    value = next;
  }
  cached = { value, truncated };
  groupsCache.set(groups, cached);
  return cached;
}

/** A `setRequestHeaders` entry: a fixed value, or a template expanded per request (undefined: the header is not sent). */
interface SetHeader {
  readonly name: string;
  readonly value: string;
  readonly template: HeaderTemplate | undefined;
}

/**
 * A route's header plan (`headerPlan`): lower-cased names, header-safe configured values, parsed templates and the
 * Basic password, made when a configuration snapshot is provisioned (server/provision.ts).
 */
export interface HeaderPlan {
  /** The route's `passAccessToken`. */
  readonly passAccessToken: boolean;
  readonly user: string | undefined;
  readonly email: string | undefined;
  readonly groups: string | undefined;
  readonly name: string | undefined;
  readonly remove: readonly string[];
  readonly set: readonly SetHeader[];
  /** `upstreamAuth.basic`: the user template and the password read from its file; `fixed` when the user has no placeholder. */
  readonly basic: { readonly user: HeaderTemplate; readonly password: string; readonly fixed: string | undefined } | undefined;
}

/** The password of `upstreamAuth.basic.passwordFile` (one trailing newline dropped). */
function readPassword(route: Route, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new DrawbridgeError('DRB_CONFIG_READ', `route "${route.name}" upstreamAuth.basic.passwordFile: ${(cause as Error).message}`, { cause });
  }
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}

function basicCredentials(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * The route's header plan, reading its `upstreamAuth.basic.passwordFile`: made when a snapshot is provisioned, so
 * a file that cannot be read fails the start or the reload (DRB_CONFIG_READ), never a request, and a changed
 * password is read at the next reload.
 */
export function headerPlan(route: Route): HeaderPlan {
  const names = route.identityHeaders;
  const basic = route.basicAuth;
  const password = basic ? readPassword(route, basic.passwordFile) : '';
  return {
    passAccessToken: route.passAccessToken,
    user: names ? names.user.toLowerCase() : undefined,
    email: names ? names.email.toLowerCase() : undefined,
    groups: names ? names.groups.toLowerCase() : undefined,
    name: names ? names.name.toLowerCase() : undefined,
    remove: route.removeRequestHeaders.map((n) => n.toLowerCase()),
    set: route.setRequestHeaders.map(([n, v]): SetHeader => {
      const parsed = parseHeaderTemplate(v);
      const template = 'error' in parsed ? undefined : parsed.dynamic ? parsed : undefined;
      // Configured values are sent as written unless node would refuse them ({{ unescaped).
      const fixed = 'error' in parsed ? v : parsed.parts.join('');
      return { name: n.toLowerCase(), value: NODE_INVALID.test(fixed) ? encodeHeaderValue(fixed) : fixed, template };
    }),
    basic: basic
      ? { user: basic.user, password, fixed: basic.user.dynamic ? undefined : basicUser(basic.user, undefined, password) }
      : undefined,
  };
}

/**
 * The header plans of a configuration's routes, aligned with `routes`: routes whose plans are the same (the usual
 * case: the default header names, no edits, no Basic credentials) share one plan object, so that with 10,000 routes
 * the plan a request reads is one the CPU caches already hold, not one of 10,000. A plan with Basic credentials is
 * its route's own.
 */
export function headerPlans(routes: readonly Route[]): readonly HeaderPlan[] {
  const shared = new Map<string, HeaderPlan>();
  return routes.map((route) => {
    const plan = headerPlan(route);
    if (plan.basic !== undefined) return plan;
    const key = JSON.stringify([plan.passAccessToken, plan.user, plan.email, plan.groups, plan.name, plan.remove, plan.set]);
    const same = shared.get(key);
    if (same !== undefined) return same;
    shared.set(key, plan);
    return plan;
  });
}

/** The value of one placeholder, header-safe (`encode`) or raw; undefined when the identity has none. */
function placeholderValue(p: Placeholder, identity: Identity, encode: boolean): string | undefined {
  if ('claim' in p) {
    const v = identity.claims[p.claim];
    if (typeof v === 'string') return encode ? encodeHeaderValue(v) : v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (!Array.isArray(v)) return undefined;
    const items: string[] = [];
    for (const item of v) {
      if (typeof item === 'string') items.push(encode ? encodeGroup(item) : item);
      else if (typeof item === 'number' || typeof item === 'boolean') items.push(String(item));
      else return undefined;
    }
    return items.join(',');
  }
  switch (p.field) {
    case 'user':
      return encode ? encodeHeaderValue(identity.user) : identity.user;
    case 'email':
      // Unverified: anyone's to claim ("nOAuth"), as for X-Forwarded-Email.
      if (identity.email === undefined || identity.emailVerified === false) return undefined;
      return encode ? encodeHeaderValue(identity.email) : identity.email;
    case 'name':
      return identity.name === undefined ? undefined : encode ? encodeHeaderValue(identity.name) : identity.name;
    case 'groups': {
      if (!encode) return identity.groups.join(',');
      const groups = encodeGroups(identity.groups);
      // Some groups left out: no value rather than a partial list.
      return groups.truncated ? undefined : groups.value;
    }
  }
}

/**
 * A template expanded for an identity: undefined when there is no identity, a placeholder has no (or an empty)
 * value, or the result is longer than MAX_TEMPLATE_BYTES. Placeholder values are header-safe (`encodeHeaderValue`)
 * when `encode`, raw otherwise (Basic credentials, which are base64-encoded whole).
 */
export function expandTemplate(template: HeaderTemplate, identity: Identity | undefined, encode = true): string | undefined {
  if (identity === undefined) return template.dynamic ? undefined : template.parts.join('');
  let out = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = placeholderValue(part, identity, encode);
    if (value === undefined || value === '') return undefined;
    out += value;
    if (out.length > MAX_TEMPLATE_BYTES) return undefined;
  }
  return Buffer.byteLength(out, 'utf8') > MAX_TEMPLATE_BYTES ? undefined : out;
}

// RFC 7617: a user-id cannot hold ":" (it would end the user name: "alice:x" would be user "alice"), nor controls.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const BAD_BASIC_USER = /[:\x00-\x1f\x7f-\x9f]/;

/** The Authorization value for a Basic user template, or undefined when the user has no acceptable value. */
function basicUser(user: HeaderTemplate, identity: Identity | undefined, password: string): string | undefined {
  const name = expandTemplate(user, identity, false);
  if (name === undefined || BAD_BASIC_USER.test(name)) return undefined;
  return basicCredentials(name, password);
}

// The assertion header's configured name and its lower-cased form: the same configuration string on every request,
// lower-cased once (a new string per request would also be a new property key to look up).
let assertionName = '';
let assertionKey = '';

/**
 * Sets, following the route's header `plan`, in place on the request headers that will be forwarded: the identity under the route's names (none when
 * `route.identityHeaders` is false or there is no identity; a field the identity lacks, or an email the IdP marked
 * unverified, is skipped; groups
 * comma-separated, capped at MAX_GROUPS_HEADER_BYTES), the assertion, `x-forwarded-access-token` on
 * `passAccessToken` routes, X-Forwarded-For/-Proto/-Host and X-Request-Id; then applies the route's
 * `removeRequestHeaders` and `setRequestHeaders` (placeholders expanded: `expandTemplate`; a header without a value
 * is removed), and `upstreamAuth.basic` (the client's Authorization is always replaced or removed). Identity values
 * are encoded with `encodeHeaderValue`. Call after `stripClientHeaders`.
 */
export function setIdentityHeaders(headers: IncomingHttpHeaders, plan: HeaderPlan, identity: Identity | undefined, extras: IdentityExtras): void {
  if (identity && plan.user !== undefined) {
    headers[plan.user] = encodeHeaderValue(identity.user);
    // An address the IdP did not say it verified is anyone's to claim ("nOAuth"): never passed as identity.
    if (identity.email !== undefined && identity.emailVerified === true) headers[plan.email!] = encodeHeaderValue(identity.email);
    if (identity.groups.length > 0) {
      const groups = encodeGroups(identity.groups);
      headers[plan.groups!] = groups.value;
      if (groups.truncated) headers[HEADERS.groupsTruncated] = '1';
    }
    if (identity.name !== undefined) headers[plan.name!] = encodeHeaderValue(identity.name);
  }
  if (extras.assertion) {
    const name = extras.assertion.name;
    if (name !== assertionName) [assertionName, assertionKey] = [name, name.toLowerCase()];
    headers[assertionKey] = extras.assertion.value;
  }
  if (plan.passAccessToken && extras.accessToken) headers[HEADERS.accessToken] = encodeHeaderValue(extras.accessToken);
  headers[HEADERS.forwardedFor] = extras.forwardedFor ? `${extras.forwardedFor}, ${extras.clientIp}` : extras.clientIp;
  headers[HEADERS.forwardedProto] = extras.proto;
  headers[HEADERS.forwardedHost] = extras.host;
  headers[HEADERS.requestId] = extras.requestId;
  for (const name of plan.remove) delete headers[name];
  for (const h of plan.set) {
    if (h.template === undefined) {
      headers[h.name] = h.value;
      continue;
    }
    const value = expandTemplate(h.template, identity);
    if (value === undefined) delete headers[h.name];
    else headers[h.name] = value;
  }
  const basic = plan.basic;
  if (basic !== undefined) {
    const auth = basic.fixed ?? basicUser(basic.user, identity, basic.password);
    if (auth === undefined) delete headers.authorization;
    else headers.authorization = auth;
  }
}
