// proxy/test/lazy-modules.test.ts — a Drawbridge with the memory store and no `tls.acme` never loads the Redis store's
// code (session/redis-store.ts) nor the ACME code (tls/acme.ts, its storages, server/cluster-acme.ts): server.ts and
// cluster.ts load them at start only when they are configured (docs/deploy.md, "Memory"). Drawbridge's modules are
// ES modules, so this test records what the process resolves through module customization hooks registered before
// it imports Drawbridge (test-support/module-log-hooks.mjs). And `drawbridge serve` never loads zod, the YAML parser or
// the configuration's schema: it validates its file, at start and on every reload, in a worker thread
// (server/config-isolate.ts), whose isolate ends with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { drawbridgeProcessWith } from '../../test-support/process.js';
import { reservePort } from '../../test-support/net.js';

const resolved: string[] = [];
const { port1, port2 } = new MessageChannel();
port1.on('message', (url: string) => resolved.push(url));
port1.unref();
register(new URL('../../test-support/module-log-hooks.mjs', import.meta.url), { data: { port: port2 }, transferList: [port2] });

const NOT_LOADED = [/\/session\/redis-store\.[jt]s$/, /\/tls\/acme\.[jt]s$/, /\/tls\/acme-storage\.[jt]s$/, /\/tls\/acme-redis-storage\.[jt]s$/, /\/server\/cluster-acme\.[jt]s$/];

let markers = 0;

/** Every URL posted before this call has arrived: the hooks post in order, and a fresh module's own URL comes last. */
async function settled(): Promise<void> {
  const url = `data:text/javascript,export default ${++markers}`;
  await import(url);
  await new Promise<void>((resolve) => {
    const check = () => (resolved.includes(url) ? resolve() : setImmediate(check));
    check();
  });
}

test('a signed-in request through a memory-store Drawbridge without tls.acme loads neither the Redis store nor the ACME code', { timeout: 120_000 }, async () => {
  const { startStack } = await import('../../test-support/stack.js');
  const stack = await startStack();
  try {
    const browser = stack.browser();
    const { response } = await stack.signIn(browser, stack.url('app.localhost', '/'), 'alice');
    assert.equal(response.status, 200);
    assert.equal((await browser.get(stack.url('app.localhost', '/again'))).status, 200);
  } finally {
    await stack.close();
  }
  await settled();
  // The hooks saw Drawbridge's modules (the server, the memory store) ...
  assert.ok(resolved.some((u) => /\/server\/server\.[jt]s$/.test(u)), 'the hooks saw no server module');
  assert.ok(resolved.some((u) => /\/session\/memory-store\.[jt]s$/.test(u)), 'the hooks saw no memory store');
  // ... and none of those loaded only when configured.
  for (const re of NOT_LOADED) assert.deepEqual(resolved.filter((u) => re.test(u)), [], `${re} was loaded`);
  // What the loaders import is there: the configured cases still work (the Redis store and the ACME storages load).
  await import('../../proxy/src/session/redis-store.js');
  await settled();
  assert.ok(resolved.some((u) => NOT_LOADED[0]!.test(u)));
});

/** A configuration for a `serve` process with `routes` public routes (the IdP is never contacted). */
function serveConfig(port: number, admin: number, routes: number): string {
  const lines = [
    `listen: "127.0.0.1:${port}"`,
    `publicUrl: http://auth.localhost:${port}`,
    `admin: { listen: "127.0.0.1:${admin}" }`,
    'idp: { issuer: "http://127.0.0.1:9", clientId: drawbridge, clientSecret: not-used-in-this-test, allowInsecureHttp: true }',
    'session: { secret: lazy-modules-test-session-secret-0123456789 }',
    'log: { level: info, format: json }',
    'routes:',
  ];
  for (let i = 0; i < routes; i++) lines.push(`  - { name: r${i}, from: "http://r${i}.localhost:${port}", to: "http://127.0.0.1:9", public: true }`);
  return `${lines.join('\n')}\n`;
}

test('`drawbridge serve` never loads zod, the YAML parser or the configuration schema, at start or on a reload; a bad file is still refused at FILE:LINE:COL', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-lazy-modules-'));
  // Hooks that write down every module the serving process's main thread resolves (node 20 gives its worker threads
  // none of them: what the validating thread loads is not the serving isolate's).
  const seen = join(dir, 'modules.txt');
  writeFileSync(seen, '');
  const hooks = join(dir, 'record-hooks.mjs');
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(seen)}, r.url + '\\n'); return r; }\n`);
  const registerHooks = join(dir, 'record.mjs');
  writeFileSync(registerHooks, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const file = join(dir, 'drawbridge.yaml');
  const port = await reservePort();
  const admin = await reservePort();
  writeFileSync(file, serveConfig(port, admin, 1));
  const s = drawbridgeProcessWith({ nodeArgs: ['--import', pathToFileURL(registerHooks).href] }, 'serve', '--config', file);
  try {
    await s.line((l) => l.event === 'start');
    // A valid change, reloaded by SIGHUP: validated in the worker, compiled and swapped in here.
    writeFileSync(file, serveConfig(port, admin, 2));
    s.child.kill('SIGHUP');
    assert.equal((await s.line((l) => l.event === 'reload')).result, 'success');
    // An invalid file: refused with its FILE:LINE:COL (the schema's words, from the worker), the running one kept.
    const bad = s.logs.length;
    writeFileSync(file, serveConfig(port, admin, 2).replace('public: true }\n', 'public: true, publik: true }\n'));
    s.child.kill('SIGHUP');
    const refused = await s.line((l) => l.event === 'reload', bad);
    assert.equal(refused.result, 'failure');
    assert.ok((refused.errors as string[]).some((e) => e.startsWith(`${file}:8:`) && /publik/.test(e)), JSON.stringify(refused.errors));
    const routes = await fetch(`http://127.0.0.1:${admin}/metrics`).then((r) => r.text());
    assert.match(routes, /drawbridge_config_reloads_total\{result="success"\} 1/);
  } finally {
    await s.stop();
  }
  const modules = readFileSync(seen, 'utf8').split('\n').filter(Boolean);
  assert.ok(modules.some((u) => u.endsWith('/proxy/src/server/config-isolate.ts')), `the recording missed the server's modules (${modules.length} seen)`);
  assert.ok(modules.some((u) => u.endsWith('/proxy/src/policy/rules/groups.ts')), 'the policy rules were not loaded: the recording missed the compile step');
  for (const re of [/\/node_modules\/zod\//, /\/node_modules\/yaml\//, /\/proxy\/src\/config\/load\.ts$/, /\/proxy\/src\/config\/locate\.ts$/, /\/proxy\/src\/schema\/config\.ts$/, /\/proxy\/src\/policy\/schema(-kit)?\.ts$/]) {
    assert.deepEqual(modules.filter((u) => re.test(u)), [], `serve loaded ${re}`);
  }
});
