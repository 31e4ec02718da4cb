// header-names.ts — every HTTP header name Drawbridge reads or sets, in one place and lower-case
// (node lower-cases incoming names, so these index `req.headers` directly).

/** Prefix reserved for Drawbridge: any client-sent `x-drawbridge-*` header is stripped before forwarding. */
export const DRAWBRIDGE_PREFIX = 'x-drawbridge-';

/** Prefix of the de-facto proxy headers; believed only from trusted peers, else replaced. */
export const X_FORWARDED_PREFIX = 'x-forwarded-';

/**
 * The default names of the identity headers (SPEC §6), renameable per route (`identityHeaders`): the one
 * definition the route compiler, the stripper, the schema's descriptions and HEADERS below use.
 */
export const DEFAULT_IDENTITY_HEADERS = Object.freeze({
  user: 'X-Forwarded-User',
  email: 'X-Forwarded-Email',
  groups: 'X-Forwarded-Groups',
  name: 'X-Forwarded-Name',
});

/** The default name of the header carrying the user's access token (`passAccessToken`). */
export const ACCESS_TOKEN_HEADER = 'X-Forwarded-Access-Token';

/** Header names, lower-case. Renameable ones (identity headers, assertion) are the defaults. */
export const HEADERS = Object.freeze({
  // Proxy chain: set by Drawbridge, stripped from untrusted peers.
  forwardedFor: 'x-forwarded-for',
  forwardedProto: 'x-forwarded-proto',
  forwardedHost: 'x-forwarded-host',
  forwardedPort: 'x-forwarded-port',
  // RFC 7239: never read, never forwarded (from any peer); Drawbridge sends X-Forwarded-* instead.
  forwarded: 'forwarded',
  // Not set by Drawbridge, but upstreams read it as the client address, so an untrusted peer may not send it.
  realIp: 'x-real-ip',
  requestId: 'x-request-id',

  // Identity passed upstream (SPEC §6); per-route names may override the first four.
  forwardedUser: DEFAULT_IDENTITY_HEADERS.user.toLowerCase(),
  forwardedEmail: DEFAULT_IDENTITY_HEADERS.email.toLowerCase(),
  forwardedGroups: DEFAULT_IDENTITY_HEADERS.groups.toLowerCase(),
  forwardedName: DEFAULT_IDENTITY_HEADERS.name.toLowerCase(),
  accessToken: ACCESS_TOKEN_HEADER.toLowerCase(),
  assertion: 'x-drawbridge-assertion',
  groupsTruncated: 'x-drawbridge-groups-truncated',

  // Credentials the client sends.
  authorization: 'authorization',
  cookie: 'cookie',
  proxyAuthorization: 'proxy-authorization',

  // The URL- and method-override headers (X-Original-URL, X-HTTP-Method-Override, ...) are listed in one place with
  // why each is there, schema/config.ts OVERRIDE_HEADERS, which also validates a route's `keepRequestHeaders`.

  // Connection management (hop-by-hop, RFC 9110 §7.6.1) and message framing.
  connection: 'connection',
  keepAlive: 'keep-alive',
  proxyConnection: 'proxy-connection',
  upgrade: 'upgrade',
  te: 'te',
  trailer: 'trailer',
  transferEncoding: 'transfer-encoding',
  contentLength: 'content-length',
  expect: 'expect',
  host: 'host',

  // Read to pick a browser page or JSON; set on Drawbridge's own responses.
  accept: 'accept',
  xRequestedWith: 'x-requested-with',
  userAgent: 'user-agent',
  contentType: 'content-type',
  cacheControl: 'cache-control',
  location: 'location',
  setCookie: 'set-cookie',
  wwwAuthenticate: 'www-authenticate',

  // Sent to the access-request webhook (access/webhook.ts; docs/access-requests.md).
  webhookSignature: 'x-drawbridge-signature',
  webhookEvent: 'x-drawbridge-event',
  webhookDelivery: 'x-drawbridge-delivery',
});
