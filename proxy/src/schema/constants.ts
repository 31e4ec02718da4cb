// schema/constants.ts — values the configuration's schema (schema/config.ts) shares with the code that runs a validated
// configuration, kept apart from the schema so that importing them never loads zod (docs/deploy.md "Memory").

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

/** HSTS (RFC 6797) on every response over HTTPS; server/hsts.ts makes the header value. */
export const HSTS_DEFAULT_MAX_AGE = '365d';
