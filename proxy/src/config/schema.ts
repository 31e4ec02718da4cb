// config/schema.ts — the one zod schema of drawbridge.yaml: it gives the TypeScript types, the
// validation messages and (via z.toJSONSchema) config/drawbridge.schema.json. Descriptions double as docs.
import { z } from 'zod';
import { durationSchema } from '../policy/duration.js';
import { policySchema } from '../policy/schema.js';
import { cidrSchema } from '../policy/cidr.js';

const cidr = cidrSchema;
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^`|~-]+$/, 'invalid HTTP header name');

/**
 * Request headers that make an application serve another URL or run another method than the request line's, which
 * is what Drawbridge matched and authorized: stripped from every request (forward/strip.ts) unless a route lists
 * one in `keepRequestHeaders`. Lower-case. URL: `X-Original-URL` (IIS URL Rewrite; read by Symfony and Zend before
 * their 2018 fixes, WordPress-era and other PHP front controllers, ASP.NET apps through HTTP_X_ORIGINAL_URL),
 * `X-Rewrite-URL` (ISAPI_Rewrite; read by Yii 1 and 2, old Symfony and Zend), `X-Original-URI` (nginx
 * `auth_request` set-ups and the apps and auth services that read it), `X-Override-URL` (the third name of the
 * family probed by scanners). Method: `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override` (Express
 * method-override, Symfony and others).
 */
export const OVERRIDE_HEADERS: readonly string[] = Object.freeze([
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
  'x-override-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);
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

const tlsFiles = z.strictObject({
  certFile: z.string().min(1).describe('PEM certificate chain file.'),
  keyFile: z.string().min(1).describe('PEM private key file.'),
});

const memoryStore = z.strictObject({
  type: z.literal('memory'),
  maxSessions: z.number().int().positive().default(100000).describe('Upper bound on sessions held; the least recently used is evicted beyond it. Each session is kept packed (about 1 KB with its tokens), and the 5,000 most recently read also unpacked (about 2 KB more each): 100,000 sessions take about 100–140 MB.'),
});
const redisStore = z.strictObject({
  type: z.literal('redis'),
  url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').describe('Redis URL; records are encrypted with a key derived from session.secret.'),
  prefix: z.string().default('drawbridge:').describe('Prefix of every key Drawbridge writes.'),
});

const sessionTimeouts = z.strictObject({
  idleTimeout: durationSchema.optional().describe('Per-route idle timeout; must be shorter than the global one.'),
  maxLifetime: durationSchema.optional().describe('Per-route absolute lifetime; must be shorter than the global one.'),
});

export const identityHeadersSchema = z.strictObject({
  user: headerName.optional().describe('Header carrying the user name (default X-Forwarded-User).'),
  email: headerName.optional().describe('Header carrying the email (default X-Forwarded-Email).'),
  groups: headerName.optional().describe('Header carrying the comma-separated groups (default X-Forwarded-Groups).'),
  name: headerName.optional().describe('Header carrying the display name (default X-Forwarded-Name).'),
});

export const routeSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'route name: letters, digits, ".", "_" and "-", at most 63 characters')
    .describe('Unique name, used in logs and metrics.'),
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
  passAccessToken: z.boolean().default(false).describe('Forward the IdP access token as X-Forwarded-Access-Token.'),
  setRequestHeaders: z.record(headerName, z.string()).default({}).describe('Headers set on every forwarded request.'),
  removeRequestHeaders: z.array(headerName).default([]).describe('Headers removed from every forwarded request.'),
  keepRequestHeaders: z
    .array(overrideHeaderName)
    .default([])
    .describe(
      'Override headers forwarded on this route although Drawbridge strips them from every request: X-Original-URL, X-Rewrite-URL, X-Original-URI, X-Override-URL (the application serves the URL they name) and X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override (it runs the method they name). Only these names, in any case. A kept one lets the client choose what the application does after the policy decided on the request line: keep one only for an application that needs it, on a route whose policy and `methods` admit every path and method it could name.',
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
      caFile: z.string().optional().describe('CA bundle to verify the upstream.'),
      certFile: z.string().optional().describe('Client certificate (mutual TLS).'),
      keyFile: z.string().optional().describe('Client key (mutual TLS).'),
      serverName: z.string().optional().describe('SNI and name to verify.'),
      insecureSkipVerify: z.boolean().default(false).describe('Do not verify the upstream certificate (testing only).'),
    })
    .optional(),
  session: sessionTimeouts.optional().describe('Shorter session timeouts for this route.'),
});

export const configSchema = z.strictObject({
  $schema: z.string().optional().describe('Editor hint; ignored.'),
  listen: listenAddress.default(':8080').describe('Proxy listener address.'),
  publicUrl: z.string().url('expected an absolute URL').describe('Origin of the sign-in endpoints; the callback is publicUrl + /.drawbridge/callback.'),
  tls: tlsFiles.optional().describe('Serve HTTPS with these files.'),
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
        user: z.string().default('preferred_username').describe('Claim naming the user.'),
        groups: z.string().default('groups').describe('Claim carrying the groups.'),
      })
      .default({ user: 'preferred_username', groups: 'groups' }),
    audiences: z.array(z.string().min(1)).optional().describe('Accepted `aud` of bearer tokens (default: clientId).'),
    mfaAcrValues: z.array(z.string().min(1)).default([]).describe('acr_values sent to the IdP when an `mfa` rule needs a step-up, and at the first sign-in to a route that needs MFA of everybody.'),
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
      keyFile: z.string().optional().describe('ES256 private key (PEM). Absent: generated at start (one replica only).'),
      previousKeys: z.array(z.string()).default([]).describe('Public keys (PEM) still published in the JWKS during rotation.'),
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
    })
    .default({ maxHeaderSize: 16384, requestTimeout: '60s', headersTimeout: '10s', keepAliveTimeout: '5s' }),
  policies: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'policy name: letters, digits, ".", "_" and "-"'), policySchema).default({}),
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
