// e2e/demo.ts — `npm run demo`: the dev IdP, the sample legacy app and Drawbridge with
// config/demo.yaml, all on loopback; prints the URL to open and the accounts.
import { fileURLToPath } from 'node:url';
import { startSampleApp } from './sample-app/sample-app.js';
import { loadConfigFile } from '../proxy/src/config/load.js';
import { formatIssue } from '../proxy/src/config/locate.js';
import { startDrawbridge } from '../proxy/src/server/server.js';
import { DEMO_GRANT_HOURS, demoEnv, importDevIdpQuietly } from './demo-env.js';

const CONFIG = fileURLToPath(new URL('../config/demo.yaml', import.meta.url));
const env = demoEnv(process.env, Date.now());
const { startDevIdp } = await importDevIdpQuietly();

const loaded = loadConfigFile(CONFIG, env);
if (!loaded.ok) {
  for (const e of loaded.errors) console.error(formatIssue(e));
  process.exit(1);
}
const config = loaded.config;
const publicUrl = config.publicUrl;

const idp = await startDevIdp({
  port: Number(new URL(config.idp.issuer).port),
  clients: [
    {
      clientId: config.idp.clientId,
      clientSecret: config.idp.clientSecret,
      redirectUris: [`${publicUrl}/.drawbridge/callback`],
      postLogoutRedirectUris: [`${publicUrl}/.drawbridge/sign_out`],
      backchannelLogoutUri: `http://127.0.0.1:${new URL(publicUrl).port}/.drawbridge/backchannel_logout`,
    },
  ],
});
const app = await startSampleApp({
  port: Number(new URL(config.routes[0].to).port),
  jwksUrl: `http://127.0.0.1:${new URL(publicUrl).port}/.drawbridge/jwks.json`,
  issuer: new URL(publicUrl).origin,
  audience: [...new Set(config.routes.map((r) => new URL(r.from).origin))],
});
const db = await startDrawbridge({ config, configFile: CONFIG, env });

console.log(`
  Drawbridge demo is running.

  Open   http://app.localhost:8080/          (alice: allowed · bob: 403 page)
         http://app.localhost:8080/admin     (needs MFA: carol gets in, alice is asked to step up)
         http://app.localhost:8080/reports   (bob's just-in-time grant: ${DEMO_GRANT_HOURS} hours, until ${env.DEMO_GRANT_UNTIL})
         http://app2.localhost:8080/         (a second host: no second password)
         http://app.localhost:8080/.drawbridge/me        (who am I)
         http://app.localhost:8080/.drawbridge/sign_out  (sign out everywhere)

  Accounts (password = user name; one-time code ${'123456'}):
         alice  engineering          password only
         bob    sales                password only
         carol  wiki-admins          password + one-time code

  Metrics http://127.0.0.1:9090/metrics · dev IdP ${idp.issuer} · sample app ${app.url}
  Press Ctrl+C to stop.
`);

const stop = async () => {
  await db.close();
  await Promise.all([idp.close(), app.close()]);
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
