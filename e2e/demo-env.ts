// e2e/demo-env.ts — what `npm run demo` sets up before it starts: the demo's environment (its secrets and the end of
// bob's just-in-time grant, relative to the start so the demo never expires) and a quiet import of the dev IdP.

/** How long bob's /reports grant in config/demo.yaml lasts after the demo starts. */
export const DEMO_GRANT_HOURS = 8;

/** The environment config/demo.yaml is loaded with, for a demo started at `now` (ms since epoch). */
export function demoEnv(env: Readonly<Record<string, string | undefined>>, now: number): Record<string, string | undefined> {
  return {
    ...env,
    // Demo-only secrets: the demo is plain HTTP on loopback and must start with nothing to set up.
    DEMO_CLIENT_SECRET: env.DEMO_CLIENT_SECRET ?? 'demo-client-secret-not-for-production-0123456789',
    DEMO_SESSION_SECRET: env.DEMO_SESSION_SECRET ?? 'demo-session-secret-not-for-production-0123456789',
    DEMO_GRANT_UNTIL: env.DEMO_GRANT_UNTIL ?? new Date(now + DEMO_GRANT_HOURS * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

/**
 * Imports the dev IdP without oidc-provider's "Unsupported runtime" line: it wants Node 22 and says so on every start
 * under Node 20, where the dev IdP works as it should. Only that line is dropped; any other warning still shows.
 */
export async function importDevIdpQuietly(): Promise<typeof import('./idp/dev-idp.js')> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
    warn(...args);
  };
  try {
    return await import('./idp/dev-idp.js');
  } finally {
    console.warn = warn;
  }
}
