// schema/config.ts — the one zod schema of drawbridge.yaml: it gives the TypeScript types, the
// validation messages and (via z.toJSONSchema) config/drawbridge.schema.json. Descriptions double as docs.
import { z } from 'zod';
import { parseDuration } from '../policy/duration.js';
import { policySchema } from '../policy/schema.js';
import { cidrSchema, durationSchema } from '../policy/schema-kit.js';
import { HSTS_DEFAULT_MAX_AGE, OVERRIDE_HEADERS } from './constants.js';
import { RFC8176_MFA_AMR } from '../policy/rules/mfa.js';
import { ACCESS_TOKEN_HEADER, DEFAULT_IDENTITY_HEADERS } from '../header-names.js';

export { HSTS_DEFAULT_MAX_AGE, OVERRIDE_HEADERS };

const cidr = cidrSchema;
const claimName = z.string().min(1);
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^`|~-]+$/, 'invalid HTTP header name');

const OVERRIDE_NAMES: ReadonlySet<string> = new Set(OVERRIDE_HEADERS);
const overrideHeaderName = z
  .string()
  .refine((name) => OVERRIDE_NAMES.has(name.toLowerCase()), {
    message: 'only an override header Drawbridge strips may be kept: X-Original-URL, X-Rewrite-URL, X-Original-URI, X-Override-URL, X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override',
  });
/** The token endpoint authentication methods Drawbridge implements (idp.tokenEndpointAuthMethod). */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected HOST:PORT or :PORT (e.g. ":8080", "127.0.0.1:9090")');

function atLeastAYear(duration: string): boolean {
  try {
    return parseDuration(duration) >= 365 * 86_400_000;
  } catch {
    return false; // the duration's own error is reported
  }
}

const hstsSchema = z
  .strictObject({
    maxAge: durationSchema.default(HSTS_DEFAULT_MAX_AGE).describe('How long browsers keep to HTTPS for this host (`max-age`, whole seconds).'),
    includeSubDomains: z.boolean().default(false).describe('Also every subdomain of the host (`includeSubDomains`): only when every one of them serves HTTPS.'),
    preload: z.boolean().default(false).describe('Ask to be on the browsers\' preload list (`preload`); needs includeSubDomains and a maxAge of at least 365d (hstspreload.org).'),
  })
  .refine((h) => !h.preload || (h.includeSubDomains && atLeastAYear(h.maxAge)), {
    message: 'preload needs includeSubDomains: true and a maxAge of at least 365d (the preload list refuses anything less)',
    path: ['preload'],
  });

/** TLS versions a `minVersion` may name (older ones are never offered). */
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

const certificatePair = z.strictObject({
  certFile: z.string().min(1).describe('PEM certificate chain file: the leaf first, then its intermediates.'),
  keyFile: z.string().min(1).describe('PEM private key file (unencrypted).'),
});

/** The ACME challenge types Drawbridge answers itself (DNS-01 needs a DNS provider's API: not supported). */
export const ACME_CHALLENGES = ['http-01', 'tls-alpn-01'] as const;

const acmeSettings = z.strictObject({
  email: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an email address').describe('Contact address of the ACME account (the CA writes to it about expiring certificates and policy changes).'),
  directory: z
    .string()
    .url('expected the ACME directory URL')
    .default('https://acme-v02.api.letsencrypt.org/directory')
    .describe('ACME directory URL of the CA (default Let\'s Encrypt production; staging: https://acme-staging-v02.api.letsencrypt.org/directory).'),
  hosts: z
    .union([z.literal('auto'), z.array(z.string().min(1)).min(1)])
    .default('auto')
    .describe('Host names to obtain certificates for: `auto` (publicUrl\'s host and every exact route host; wildcard routes cannot be validated by HTTP-01 or TLS-ALPN-01) or a list of exact names.'),
  storage: z.string().min(1).default('drawbridge-acme').describe('Directory holding the account key and each host\'s certificate and key (created with mode 0700; relative to the working directory). With the Redis session store they are kept (encrypted) in Redis instead, shared by the replicas.'),
  caFile: z.string().min(1).optional().describe('CA bundle trusted for the ACME server\'s own HTTPS (a private or test CA such as pebble\'s), added to the system roots.'),
  challenges: z
    .array(z.enum(ACME_CHALLENGES))
    .min(1)
    .default(['http-01', 'tls-alpn-01'])
    .describe('Challenge types offered, in order of preference: `http-01` (answered on httpListen, which the CA reaches on port 80) and `tls-alpn-01` (answered on the TLS listener, which the CA reaches on port 443).'),
  httpListen: z
    .union([listenAddress, z.literal(false)])
    .default(':80')
    .describe('The plain-HTTP listener: answers HTTP-01 challenges and redirects every other request to HTTPS (308); `false` for none (then only tls-alpn-01 can be used).'),
});

const tlsFiles = z.strictObject({
  certFile: z.string().min(1).optional().describe('PEM certificate chain file of the default certificate: the leaf first, then its intermediates. Re-read on SIGHUP and when it changes (docs/tls.md).'),
  keyFile: z.string().min(1).optional().describe('PEM private key file of the default certificate (unencrypted).'),
  acme: acmeSettings.optional().describe('Obtain and renew certificates automatically from an ACME CA (Let\'s Encrypt); see docs/tls.md "Automatic certificates (ACME)". certFile/keyFile beside it are served to the names ACME does not manage (e.g. wildcards).'),
  certificates: z
    .array(certificatePair)
    .default([])
    .describe('More certificates, chosen by the name the client asks for (SNI) among each certificate\'s DNS names (wildcards too). A client asking for no name, or a name none covers, gets the default certificate (certFile/keyFile, else the first of these).'),
  minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2').describe('Oldest TLS version accepted.'),
  ciphers: z
    .string()
    .min(1)
    .optional()
    .describe('OpenSSL cipher list (TLS 1.2 suites and TLS 1.3 suite names, colon-separated). Default: the AEAD forward-secret suites only (docs/tls.md).'),
  curves: z.string().min(1).optional().describe('Key-exchange groups, colon-separated (node\'s ecdhCurve). Default: X25519:P-256:P-384.'),
  clientCa: z
    .string()
    .min(1)
    .optional()
    .describe('PEM bundle of the CAs that issue device certificates (mutual TLS): the listener asks every client for a certificate, and one that chains to these (every CA between the device and its root in the bundle) becomes the request\'s device, matched by the `device` rule. Re-read on SIGHUP and when it changes (docs/device-trust.md).'),
  clientCrl: z
    .string()
    .min(1)
    .optional()
    .describe('Certificate revocation lists (PEM or DER) of the clientCa CAs: a revoked device certificate is no device. Each CA that issues device certificates needs its current list here (a missing or expired one refuses its certificates). Re-read on SIGHUP and when it changes; a revocation applies to open connections at their next request.'),
  clientCert: z
    .enum(['optional', 'required'])
    .default('optional')
    .describe('With clientCa: `optional` lets requests without a device certificate on to the policy (only `device` rules see the difference); `required` answers every request without a verified one (none, a foreign or revoked one) with a page saying this site needs the device certificate (403 DRB_DEVICE_REQUIRED), before sign-in.'),
  ticketKeyRotation: durationSchema.default('12h').describe('How often the session-ticket key is replaced by a fresh random one (tickets under an older key make a full handshake).'),
  http2: z
    .union([
      z.boolean(),
      z.strictObject({
        maxConcurrentStreams: z.number().int().min(1).max(1000).default(100).describe('Streams (requests) a client may have open at once on one HTTP/2 connection; more are refused (REFUSED_STREAM).'),
      }),
    ])
    .default(true)
    .describe('Offer HTTP/2 (ALPN `h2`) beside HTTP/1.1 on the TLS listener: `true` (default, 100 concurrent streams per connection), `false` for HTTP/1.1 only, or `{ maxConcurrentStreams }`. Requests over HTTP/2 meet the same normalization, header rules and limits (limits.maxHeaderSize is the header list size); WebSockets stay on HTTP/1.1 (docs/tls.md "HTTP/2"). Needs a restart to change.'),
  hsts: z
    .union([z.literal(false), hstsSchema])
    .optional()
    .describe('Strict-Transport-Security on every response over HTTPS (TLS here, or X-Forwarded-Proto: https from a trusted proxy), proxied ones included unless the upstream sends its own. Absent: max-age one year, no includeSubDomains, no preload. false: none.'),
});
const memoryStore = z.strictObject({
  type: z.literal('memory'),
  maxSessions: z.number().int().positive().default(100000).describe('Upper bound on sessions held; the least recently used is evicted beyond it. Each session is kept packed (about 1 KB with its tokens), and the 5,000 most recently read also unpacked (about 2 KB more each): 100,000 sessions take about 100–140 MB.'),
});
const redisNode = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'expected host:port');
const redisPasswordFile = z.string().min(1).describe('File holding the password (one trailing newline is ignored); read at start.');
const redisSentinel = z.strictObject({
  name: z.string().min(1).describe('The name the sentinels monitor the primary under (`sentinel monitor NAME ...`).'),
  nodes: z.array(redisNode).min(1).describe('Sentinels to ask for the primary, `host:port` (list at least two of them: any one that answers will do).'),
  username: z.string().min(1).optional().describe('ACL user of the Redis servers (not of the sentinels).'),
  passwordFile: redisPasswordFile.optional().describe('File holding the password of the Redis servers (one trailing newline is ignored); read at start.'),
  sentinelPasswordFile: redisPasswordFile.optional().describe('File holding the password of the sentinels (`requirepass` in sentinel.conf), when they have one.'),
});
const redisCluster = z.strictObject({
  nodes: z.array(redisNode).min(1).describe('Some nodes of the cluster, `host:port`; the others are discovered from them.'),
  username: z.string().min(1).optional().describe('ACL user of the cluster nodes.'),
  passwordFile: redisPasswordFile.optional().describe('File holding the password of the cluster nodes (one trailing newline is ignored); read at start.'),
});
const redisStore = z
  .strictObject({
    type: z.literal('redis'),
    url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').optional().describe('Redis URL of one server; records are encrypted with a key derived from session.secret. Exactly one of url, sentinel and cluster.'),
    sentinel: redisSentinel.optional().describe('A primary and its replicas watched by Redis Sentinel: the store asks the sentinels for the primary, and again after a failover (docs/deploy.md "Redis Sentinel").'),
    cluster: redisCluster.optional().describe('A Redis Cluster (docs/deploy.md "Redis Cluster"). The session read cache is off on a cluster.'),
    waitReplicas: z.number().int().min(0).optional().describe('Replicas that must acknowledge a sign-in, a sign-out or a revocation (Redis WAIT) before it counts as done; a write they do not acknowledge in time fails (503). Default 1 with sentinel, else 0.'),
    prefix: z.string().default('drawbridge:').describe('Prefix of every key Drawbridge writes.'),
  })
  .superRefine((store, ctx) => {
    const given = (['url', 'sentinel', 'cluster'] as const).filter((k) => store[k] !== undefined);
    if (given.length === 1) return;
    ctx.addIssue({ code: 'custom', path: given.length === 0 ? [] : [given[1]!], message: given.length === 0 ? 'a redis store needs url, sentinel or cluster' : `give only one of url, sentinel and cluster (${given.join(' and ')} are set)` });
  });

const sessionTimeouts = z.strictObject({
  idleTimeout: durationSchema.optional().describe('Per-route idle timeout; must be shorter than the global one.'),
  maxLifetime: durationSchema.optional().describe('Per-route absolute lifetime; must be shorter than the global one.'),
});

export const identityHeadersSchema = z.strictObject({
  user: headerName.optional().describe(`Header carrying the user name (default ${DEFAULT_IDENTITY_HEADERS.user}).`),
  email: headerName.optional().describe(`Header carrying the email (default ${DEFAULT_IDENTITY_HEADERS.email}).`),
  groups: headerName.optional().describe(`Header carrying the comma-separated groups (default ${DEFAULT_IDENTITY_HEADERS.groups}).`),
  name: headerName.optional().describe(`Header carrying the display name (default ${DEFAULT_IDENTITY_HEADERS.name}).`),
});

/** `requests:` on a route — who may ask for temporary access to it, who approves, for how long (docs/access-requests.md). */
export const accessRequestsSchema = z.strictObject({
  approvers: z
    .union([z.string().min(1), policySchema])
    .describe('Who may approve a request: a full policy (inline, or the name of one under `policies`), checked against the approver when they approve; e.g. `{ allow: [ { and: [ { groups: [wiki-admins] }, { mfa: true }, { authAge: 10m } ] } ] }`. Nobody approves their own request.'),
  maxDuration: durationSchema.default('8h').describe('The longest access a request may ask for.'),
  defaultDuration: durationSchema.default('1h').describe('The duration the request form offers first; at most maxDuration.'),
  reason: z.enum(['required', 'optional']).default('required').describe('Whether the requester must say why.'),
  autoApprove: z
    .union([z.string().min(1), policySchema])
    .optional()
    .describe('A policy (inline or named): a requester it allows gets the grant at once, without an approver (logged with approver `auto`).'),
});

export const routeSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'route name: letters, digits, ".", "_" and "-", at most 63 characters')
    .describe('Unique name, used in logs and metrics.'),
  title: z
    .string()
    .min(1)
    .max(80, 'at most 80 characters')
    .refine((title) => !/\p{Cc}/u.test(title), 'no control characters (tabs and line breaks included)')
    .optional()
    .describe('What people call this application ("Team wiki"): shown on Drawbridge\'s pages (the 403 page, the step-up page) instead of the name, which stays in a small detail line for support. Default: the name.'),
  from: z.string().min(1).describe('scheme://host[:port][/path-prefix] this route serves; host may be *.example.com. Without a port the route matches its host on any port, but sign-in hands sessions (and sends return targets) only to the scheme\'s default port and Drawbridge\'s own ports (listen\'s, publicUrl\'s); a wildcard host receives them only with wildcardHandoff.'),
  to: z.string().min(1).describe('Upstream base URL (http or https).'),
  regex: z.string().min(1).optional().describe('Match the path with this regular expression instead of a prefix (checked after prefix routes, in file order).'),
  methods: z
    .array(z.string().regex(/^[A-Za-z]+$/, 'invalid HTTP method').transform((m) => m.toUpperCase()))
    .min(1)
    .optional()
    .describe('Only these methods; others get 405. Without it every method is served except TRACE (405: it would echo the identity headers and the assertion back).'),
  public: z.boolean().default(false).describe('No sign-in and no policy; still logged, headers still stripped.'),
  policy: z.union([z.string().min(1), policySchema]).optional().describe('Inline policy, or the name of one under `policies`.'),
  bearer: z
    .union([z.boolean(), z.strictObject({ audiences: z.array(z.string().min(1)).min(1).describe('Accepted `aud` values (default: idp.audiences or idp.clientId).') })])
    .default(false)
    .describe('Accept `Authorization: Bearer <JWT>` verified against the IdP JWKS.'),
  identityHeaders: z.union([z.literal(false), identityHeadersSchema]).optional().describe('false: send no identity headers; or rename them.'),
  passAccessToken: z.boolean().default(false).describe(`Forward the IdP access token as ${ACCESS_TOKEN_HEADER}.`),
  stripPrefix: z
    .boolean()
    .default(false)
    .describe(
      'Remove the route\'s `from` path prefix before the path is appended to `to`\'s path: with `from: https://app.example.com/static` and `to: http://10.0.0.5/assets`, `/static/app.css` is sent as `/assets/app.css` (without it, `/assets/static/app.css`). Prefix routes only (not a `/` or `regex` route); not with `rewrite`.',
    ),
  rewrite: z
    .union([
      z.strictObject({
        prefix: z.string().min(1).describe('Replaces the route\'s `from` prefix: `prefix: /v2` on `from: …/api` sends `/api/users` as `/v2/users` (`/` strips it, like `stripPrefix`). A normalized path. Prefix routes only.'),
      }),
      z.strictObject({
        regex: z.string().min(1).describe('A regular expression run on the normalized path; its first match is replaced. No match: the path is sent as it is.'),
        replace: z.string().describe('What replaces the match: text, `$1`…`$99` or `$<name>` (capture groups), `$&` (the match), `$$` (a `$`).'),
      }),
    ])
    .optional()
    .describe(
      'Rewrite the path sent upstream (after the policy decided on the request\'s normalized path): `{ prefix: /new }`, or `{ regex: "^/old/(.*)$", replace: "/new/$1" }`. A regex result that is not a canonical path (see "Paths to the upstream") is refused with 400 and logged; it can never climb out of `to`\'s path.',
    ),
  setRequestHeaders: z
    .record(headerName, z.string())
    .default({})
    .describe(
      'Headers set on every forwarded request, replacing any the client sent. Values may hold identity placeholders: `{user}`, `{email}` (verified only), `{groups}` (comma-separated), `{name}`, `{claim:NAME}` (a claim of the ID token; arrays comma-separated); `{{` is a literal `{`. Expanded values are encoded like the identity headers (no CR/LF: controls, `%` and non-ASCII percent-encoded) and capped at 8 KiB. A header whose placeholders do not all have a value (anonymous request, missing claim, over the cap) is not sent, and a client\'s copy is removed; a name with a placeholder is stripped from every client request like an identity header. Example: `{ Remote-User: "{user}" }`.',
    ),
  removeRequestHeaders: z.array(headerName).default([]).describe('Headers removed from every forwarded request.'),
  keepRequestHeaders: z
    .array(overrideHeaderName)
    .default([])
    .describe(
      'Override headers forwarded on this route although Drawbridge strips them from every request: X-Original-URL, X-Rewrite-URL, X-Original-URI, X-Override-URL (the application serves the URL they name) and X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override (it runs the method they name). Only these names, in any case. A kept one lets the client choose what the application does after the policy decided on the request line: keep one only for an application that needs it, on a route whose policy and `methods` admit every path and method it could name.',
    ),
  upstreamAuth: z
    .strictObject({
      basic: z
        .strictObject({
          user: z.string().min(1).describe('The user name: text and identity placeholders as in `setRequestHeaders`, e.g. `"{user}"`. Must not contain `:` (RFC 7617); an expanded value with `:` or a control character sends no Authorization.'),
          passwordFile: z.string().min(1).describe('File holding the password (one trailing newline is ignored); read at start and at every reload, which fails when it cannot be read.'),
        })
        .describe('HTTP Basic authentication to the upstream.'),
    })
    .optional()
    .describe(
      'Authenticate to the upstream for the user: `Authorization: Basic base64(user:password)` (UTF-8), replacing any Authorization the client sent (a client\'s own never reaches the upstream on this route). When `user` has no value (anonymous request) no Authorization is sent.',
    ),
  preserveHost: z.boolean().default(false).describe('Forward the client Host header instead of the upstream host.'),
  wildcardHandoff: z
    .boolean()
    .optional()
    .describe(
      'Wildcard routes only: let sign-in hand sessions to any host under the wildcard. Without it, a host that only a wildcard route serves never receives a hand-off code (a dangling subdomain would get it); set it only when every name under the wildcard resolves to Drawbridge.',
    ),
  websockets: z.boolean().default(true).describe('Allow WebSocket upgrades (authorized like any request).'),
  timeout: durationSchema.default('30s').describe('Upstream response timeout; 504 when it passes.'),
  upstreamTls: z
    .strictObject({
      caFile: z.string().min(1).optional().describe('CA certificates (PEM) trusted for the upstream, in addition to the system roots (see caOnly).'),
      caOnly: z.boolean().default(false).describe('Trust only caFile\'s certificates, not the system roots.'),
      certFile: z.string().min(1).optional().describe('Client certificate (mutual TLS); needs keyFile.'),
      keyFile: z.string().min(1).optional().describe('Client key (mutual TLS); needs certFile.'),
      serverName: z.string().min(1).optional().describe('SNI and name to verify.'),
      minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2').describe('Oldest TLS version accepted from the upstream.'),
      insecureSkipVerify: z.boolean().default(false).describe('Do not verify the upstream certificate (testing only): refused unless `acknowledge` says why; logged as a warning at start and at every reload, counted in drawbridge_upstream_tls_insecure_routes, shown by `explain`.'),
      acknowledge: z.string().min(1).optional().describe('Required with insecureSkipVerify: true — why this upstream cannot be verified.'),
    })
    .optional()
    .describe('TLS to an https:// upstream. The files are re-read on SIGHUP and when they change.'),
  session: sessionTimeouts.optional().describe('Shorter session timeouts for this route.'),
  requests: accessRequestsSchema
    .optional()
    .describe('Just-in-time access: a user this route denies may ask for temporary access from the 403 page; an approver grants it at /.drawbridge/requests (docs/access-requests.md).'),
});

export const configSchema = z.strictObject({
  $schema: z.string().optional().describe('Editor hint; ignored.'),
  listen: listenAddress.default(':8080').describe('Proxy listener address.'),
  workers: z
    .union([z.literal('auto'), z.number().int().min(1)])
    .default(1)
    .describe('Event loops serving the proxy listener in this one Drawbridge (node cluster: worker processes sharing the listener, the primary owning the memory session store, the admin listener and reloads). `auto`: one per core but one, at least one (os.availableParallelism() − 1: the core left serves the primary, the kernel\'s network stack and what shares the host; on 2 cores, one process without the cluster). Needs a restart to change. docs/deploy.md.'),
  publicUrl: z.string().url('expected an absolute URL').describe('Origin of the sign-in endpoints; the callback is publicUrl + /.drawbridge/callback. An https:// publicUrl needs `tls`, or a TLS-terminating proxy in front of Drawbridge listed in `trustedProxies` (validate refuses it on a plain-HTTP listener otherwise).'),
  tls: tlsFiles.optional().describe('Serve HTTPS: certificates from files, by name (SNI) or obtained by ACME; versions, suites (docs/tls.md). The files are re-read on SIGHUP and when they change; adding or removing `tls` needs a restart.'),
  forwardedClientCert: z
    .strictObject({
      header: z.string().regex(/^[A-Za-z0-9-]+$/, 'expected a header name').default('X-Forwarded-Client-Cert').describe('The header a trusted proxy writes (Envoy\'s format: `Hash=…;Cert="<URL-encoded PEM>";…`; the rightmost element counts). Never forwarded upstream.'),
      caFile: z.string().min(1).optional().describe('PEM bundle of the device CAs the header\'s certificate must chain to; default tls.clientCa.'),
      crlFile: z.string().min(1).optional().describe('Revocation lists of those CAs (PEM or DER); default tls.clientCrl when caFile is absent or tls.clientCa\'s own file.'),
    })
    .optional()
    .describe('Device certificates behind a TLS-terminating proxy: from a peer in trustedProxies only (the trusted-hop rule of X-Forwarded-For), the certificate in this header is the request\'s device, verified again here against caFile and crlFile. From any other peer the header is ignored and removed (docs/device-trust.md).'),
  trustedProxies: z.array(cidr).default([]).describe('Peers whose X-Forwarded-For/-Proto/-Host are believed: X-Forwarded-For is read from the right up to the first hop that is not one of them (a hop that is no address makes the client address unknown, matched by no `ip` rule); -Proto and -Host by their rightmost value. `Forwarded` is never read. See docs/security.md.'),
  admin: z
    .strictObject({ listen: listenAddress.default('127.0.0.1:9090').describe('Admin listener: /metrics /healthz /readyz.') })
    .default({ listen: '127.0.0.1:9090' }),
  idp: z.strictObject({
    issuer: z.string().url('expected the issuer URL').describe('OpenID Provider issuer URL (discovery at /.well-known/openid-configuration).'),
    clientId: z.string().min(1),
    clientSecret: z
      .string()
      .min(1)
      .optional()
      .describe('The client secret registered at the IdP. Required unless tokenEndpointAuthMethod is private_key_jwt; also the key of HS256 ID tokens (OIDC Core §10.1), accepted only when the IdP announces HS256.'),
    tokenEndpointAuthMethod: z
      .enum(TOKEN_ENDPOINT_AUTH_METHODS)
      .optional()
      .describe(
        'How Drawbridge authenticates to the token endpoint (code exchange, refresh): client_secret_basic (HTTP Basic), client_secret_post (in the form body) or private_key_jwt (a JWT signed with privateKeyFile). Default: client_secret_basic when the discovery document lists it in token_endpoint_auth_methods_supported or has no list (the OIDC default), else client_secret_post. Use the method the client is registered with at the IdP.',
      ),
    privateKeyFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'private_key_jwt only: the PEM private key (RSA of 2048 bits or more, EC P-256/384/521 or Ed25519) that signs the client assertions. Their `kid` is the key\'s RFC 7638 thumbprint; register the public key at the IdP as the client\'s JWKS (`drawbridge doctor` prints it).',
      ),
    scopes: z.array(z.string().min(1)).default(['openid', 'email', 'profile']),
    claims: z
      .strictObject({
        user: claimName.default('preferred_username').describe('Claim naming the user; without it the user is `sub` (logged once per user). A user over 320 characters (or a `sub` over 255) is refused: sign-in fails naming the claim. A claim name is an exact top-level key (`https://example.com/user`), else a dot path into nested claims (`realm_access.roles`).'),
        groups: claimName.default('groups').describe('Claim carrying the groups: an array of strings, or one string (one group, or split with groupsDelimiter). Missing: no groups (logged once per user). More than 5,000 groups are refused like a long user (never cut: a deny rule must see every group); so are claims larger than maxClaimsSize.'),
        email: claimName.default('email').describe('Claim carrying the email address. `email_verified` vouches only for the `email` claim: an address taken from another claim counts as unverified unless assumeEmailVerified. An address over 320 characters is refused like a long user.'),
        name: claimName.default('name').describe('Claim carrying the display name; one over 256 characters is cut.'),
        groupsDelimiter: z.string().min(1).optional().describe('Splits a groups claim that is one string (`"engineering,staff"` with ","); each part is trimmed, empty parts dropped. Without it a string is one group.'),
      })
      .default({ user: 'preferred_username', groups: 'groups', email: 'email', name: 'name' })
      .describe('Which claims make the identity, from the ID token and (see userinfo) the userinfo endpoint.'),
    userinfo: z
      .enum(['auto', 'always', 'never'])
      .default('auto')
      .describe('When to call the IdP\'s userinfo endpoint (with the access token) for claims: `auto` when the ID token lacks a claim of `claims` and whenever a refresh answer has no ID token; `always` at every sign-in and refresh; `never`. Its `sub` must equal the ID token\'s, or the sign-in is refused (the session ended at a refresh). Its claims win over the ID token\'s, except those describing the token or the sign-in (`sub`, `iss`, `aud`, `auth_time`, `amr`, `acr`, ...).'),
    maxClaimsSize: z
      .number()
      .int()
      .min(4096)
      .max(4194304)
      .default(65536)
      .describe(
        'Most bytes the user\'s claims (ID token and userinfo together, as JSON) may take. A session keeps its claims for its whole life, in the store: larger claims are refused like a long user (sign-in fails naming the limit; at a refresh the session ends), never cut (a rule must see every claim). Raise it for IdPs that send very large group lists.',
      ),
    assumeEmailVerified: z
      .boolean()
      .default(false)
      .describe('Count an email the IdP sends without `email_verified` as verified. Only for an IdP that hands out verified addresses alone (a corporate directory); by default a missing `email_verified` means unverified (no `email`/`domain` match, no email upstream). An explicit `false` is never overridden.'),
    mfa: z
      .strictObject({
        amr: z.array(z.string().min(1)).optional().describe(`\`amr\` values that count as multi-factor, replacing the default (the RFC 8176 values naming a second factor: ${RFC8176_MFA_AMR.join(', ')}). Add your IdP's own names (\`webauthn\`, Entra's \`ngcmfa\`) here.`),
        acr: z.array(z.string().min(1)).optional().describe('`acr` values that count as multi-factor (for an IdP that sends no `amr`); default: mfaAcrValues.'),
      })
      .optional()
      .describe('What the `mfa` rule counts as multi-factor: a sign-in whose `amr` holds one of `amr`, or whose `acr` is one of `acr`.'),
    audiences: z.array(z.string().min(1)).optional().describe('Accepted `aud` of bearer tokens (default: clientId).'),
    mfaAcrValues: z.array(z.string().min(1)).default([]).describe('acr_values sent to the IdP when an `mfa` rule needs a step-up, and at the first sign-in to a route that needs MFA of everybody; an `acr` among them counts as multi-factor unless idp.mfa.acr says otherwise.'),
    allowInsecureHttp: z.boolean().default(false).describe('Allow http:// for the IdP and publicUrl (development only).'),
  }),
  session: z.strictObject({
    secret: z.string().describe('At least 32 bytes; keys for cookies, CSRF and store encryption derive from it.'),
    cookieName: z.string().regex(/^[A-Za-z0-9_-]+$/, 'cookie name: letters, digits, "_" and "-"').default('drawbridge'),
    idleTimeout: durationSchema.default('30m'),
    maxLifetime: durationSchema.default('12h'),
    store: z.discriminatedUnion('type', [memoryStore, redisStore]).default({ type: 'memory', maxSessions: 100000 }),
  }),
  assertion: z
    .strictObject({
      header: headerName.default('X-Drawbridge-Assertion'),
      keyFile: z.string().optional().describe('ES256 private key (PEM). Absent: generated at start (one replica only). A reload (or a change to the file) rotates it: the next request is signed with the new key (docs/assertion.md "Rotating the signing key").'),
      previousKeys: z.array(z.string()).default([]).describe('Public keys (PEM) still published in the JWKS during rotation; taken by a reload.'),
      ttl: durationSchema.default('2m'),
    })
    .default({ header: 'X-Drawbridge-Assertion', previousKeys: [], ttl: '2m' }),
  log: z
    .strictObject({
      level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
      format: z.enum(['json', 'pretty']).default('json'),
    })
    .default({ level: 'info', format: 'json' }),
  limits: z
    .strictObject({
      maxHeaderSize: z.number().int().min(1024).max(1048576).default(16384).describe('Bytes of request headers; beyond it 431.'),
      requestTimeout: durationSchema.default('60s').describe('Whole request (headers and body) from the client.'),
      headersTimeout: durationSchema.default('10s').describe('Request headers from the client.'),
      keepAliveTimeout: durationSchema.default('5s').describe('Idle keep-alive connection.'),
      signInsPerNetwork: z
        .number()
        .int()
        .min(0)
        .default(600)
        .describe(
          'Sign-ins one client network (an IPv4 address, an IPv6 /64; behind trustedProxies, the client\'s) may start per ten minutes, refilled evenly (600: one a second); beyond it 429 with Retry-After. Each start holds a login attempt in the session store for up to ten minutes: this bounds what one client can make the store hold, and keeps a flood from pushing out other people\'s sign-ins in progress. Counted per process (each worker and replica on its own). 0: no limit.',
        ),
    })
    .default({ maxHeaderSize: 16384, requestTimeout: '60s', headersTimeout: '10s', keepAliveTimeout: '5s', signInsPerNetwork: 600 }),
  accessRequests: z
    .strictObject({
      webhook: z
        .strictObject({
          url: z.string().url('expected the webhook URL').describe('Where every access request, approval, denial, revocation and expiry is POSTed (JSON, signed with HMAC-SHA256).'),
          secretFile: z.string().min(1).describe('File holding the HMAC secret the receiver verifies the signature with.'),
        })
        .optional()
        .describe('Notify a chat tool or ticket system of access requests; never blocks a request (retried with backoff in the background).'),
    })
    .optional()
    .describe('Settings shared by every route\'s `requests:` (one notification receiver for the deployment). Read at start.'),
  policies: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'policy name: letters, digits, ".", "_" and "-"'),
      policySchema.extend({
        requests: accessRequestsSchema
          .optional()
          .describe('Just-in-time access for every route whose `policy` is this policy\'s name (a route\'s own `requests` wins); see routes[].requests.'),
      }),
    )
    .default({}),
  routes: z.array(routeSchema).min(1, 'at least one route is needed'),
});

/** The validated configuration (defaults applied). */
export type Config = z.output<typeof configSchema>;
export type RouteConfig = z.output<typeof routeSchema>;

/** The JSON Schema of drawbridge.yaml, as `drawbridge schema` prints and config/drawbridge.schema.json holds. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://drawbridge.dev/schema/drawbridge.schema.json', title: 'Drawbridge configuration' };
}
