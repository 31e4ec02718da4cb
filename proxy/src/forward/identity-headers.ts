// forward/identity-headers.ts — the headers Drawbridge adds to a forwarded request (SPEC §3 step 6, §6): identity,
// signed assertion, access token, X-Forwarded-For/-Proto/-Host, X-Request-Id, then the route's own edits.
import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from '../policy/input.js';
import type { Route } from '../routes/compile.js';
import { HEADERS } from './header-names.js';

/** Above this many bytes the groups header carries the groups that fit and `x-drawbridge-groups-truncated: 1`. */
export const MAX_GROUPS_HEADER_BYTES = 8192;

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

interface RoutePlan {
  /** The route the plan was made for: a copy of a route (`{ ...route }`) shares its runtime, not its plan. */
  readonly route: Route;
  readonly user: string | undefined;
  readonly email: string | undefined;
  readonly groups: string | undefined;
  readonly name: string | undefined;
  readonly remove: readonly string[];
  readonly set: readonly (readonly [string, string])[];
}

/** Lower-cased names and header-safe configured values, computed once per compiled route and kept on it. */
function planFor(route: Route): RoutePlan {
  const runtime = route.runtime;
  const cached = runtime.identityPlan as RoutePlan | undefined;
  if (cached !== undefined && cached.route === route) return cached;
  const names = route.identityHeaders;
  const plan: RoutePlan = {
    route,
    user: names ? names.user.toLowerCase() : undefined,
    email: names ? names.email.toLowerCase() : undefined,
    groups: names ? names.groups.toLowerCase() : undefined,
    name: names ? names.name.toLowerCase() : undefined,
    remove: route.removeRequestHeaders.map((n) => n.toLowerCase()),
    // Configured values are sent as written unless node would refuse them.
    set: route.setRequestHeaders.map(([n, v]) => [n.toLowerCase(), NODE_INVALID.test(v) ? encodeHeaderValue(v) : v] as const),
  };
  runtime.identityPlan = plan;
  return plan;
}

/**
 * Sets, in place on the request headers that will be forwarded: the identity under the route's names (none when
 * `route.identityHeaders` is false or there is no identity; a field the identity lacks, or an email the IdP marked
 * unverified, is skipped; groups
 * comma-separated, capped at MAX_GROUPS_HEADER_BYTES), the assertion, `x-forwarded-access-token` on
 * `passAccessToken` routes, X-Forwarded-For/-Proto/-Host and X-Request-Id; then applies the route's
 * `removeRequestHeaders` and `setRequestHeaders`. Identity values are encoded with `encodeHeaderValue`.
 * Call after `stripClientHeaders`.
 */
export function setIdentityHeaders(headers: IncomingHttpHeaders, route: Route, identity: Identity | undefined, extras: IdentityExtras): void {
  const plan = planFor(route);
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
  if (extras.assertion) headers[extras.assertion.name.toLowerCase()] = extras.assertion.value;
  if (route.passAccessToken && extras.accessToken) headers[HEADERS.accessToken] = encodeHeaderValue(extras.accessToken);
  headers[HEADERS.forwardedFor] = extras.forwardedFor ? `${extras.forwardedFor}, ${extras.clientIp}` : extras.clientIp;
  headers[HEADERS.forwardedProto] = extras.proto;
  headers[HEADERS.forwardedHost] = extras.host;
  headers[HEADERS.requestId] = extras.requestId;
  for (const name of plan.remove) delete headers[name];
  for (const [name, value] of plan.set) headers[name] = value;
}
