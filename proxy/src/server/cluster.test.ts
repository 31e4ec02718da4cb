// server/cluster.test.ts — the `workers` setting: what it accepts, how many event loops it means, that a reload never
// changes it, and that tls.acme is accepted with several workers (the primary orders, the workers serve). The workers
// themselves run in proxy/test/workers*.test.ts.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { loadConfigText } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import type { Config } from '../schema/config.js';
import { workerCount } from './cluster.js';
import { reloadable } from './server.js';

function load(top: string, tls = ''): { config?: Config; errors: string[] } {
  const text = `publicUrl: https://auth.example.com
${top}
${tls ? `tls:\n${tls}\n` : 'trustedProxies: [10.0.0.0/8]\n'}idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - { name: app, from: "https://app.example.com", to: "http://10.0.0.1", public: true }
`;
  const r = loadConfigText(text, 'f.yaml');
  return r.ok ? { config: r.config, errors: [] } : { errors: r.errors.map(formatIssue) };
}

test('workers: default 1, a positive integer, or auto (one per core but one, at least one)', () => {
  assert.equal(load('').config?.workers, 1);
  assert.equal(workerCount(load('').config!), 1);
  assert.equal(workerCount(load('workers: 3').config!), 3);
  assert.equal(load('workers: auto').config?.workers, 'auto');
  assert.equal(workerCount(load('workers: auto').config!), Math.max(1, availableParallelism() - 1));
  const auto = load('workers: auto').config!;
  assert.deepEqual([1, 2, 3, 4, 16].map((cores) => workerCount(auto, cores)), [1, 1, 2, 3, 15], 'a core is left to the primary and the host');
  assert.equal(workerCount(load('workers: 3').config!, 2), 3, 'a number is taken as it is');
  for (const bad of ['workers: 0', 'workers: -2', 'workers: 1.5', 'workers: two', 'workers: "2"']) {
    const { errors } = load(bad);
    assert.equal(errors.length, 1, `${bad}: ${errors.join('; ')}`);
    assert.match(errors[0]!, /^f\.yaml:2:\d+: /, `${bad}: named at its line`);
  }
});

test('workers: tls.acme is valid with any number of workers (the primary is the one ACME client)', () => {
  const acme = '  acme: { email: ops@example.com }';
  for (const w of ['workers: 1', 'workers: 2', 'workers: auto']) assert.deepEqual(load(w, acme).errors, [], w);
  assert.deepEqual(load('workers: 2', '  certFile: tls.crt\n  keyFile: tls.key').errors, [], 'certificate files are fine');
});

test('workers: a reload keeps the running number and says a restart is needed', () => {
  const running = load('workers: 2').config!;
  const { next, kept } = reloadable(running, load('workers: 4').config!);
  assert.equal(next.workers, 2);
  assert.deepEqual(kept, ['workers']);
  assert.deepEqual(reloadable(running, load('workers: 2').config!).kept, []);
});
