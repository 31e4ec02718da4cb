// config/session-store.test.ts — session.store with type redis: one server (url), Sentinel or Cluster, exactly one of
// them; the passwords read from their files; what the store is then built from.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseRedisNode, redisTopology } from '../session/redis-store.js';
import { loadConfigText } from './load.js';
import { formatIssue } from './locate.js';

function config(store: string, tls = 'tls: { certFile: tls.crt, keyFile: tls.key }\n'): string {
  return `publicUrl: https://auth.example.com
${tls}idp:
  issuer: https://idp.example.com
  clientId: drawbridge
  clientSecret: s3cret
session:
  secret: a-session-secret-that-is-long-enough-0123456789
  store:
${store.replace(/^/gm, '    ')}
routes:
  - { name: wiki, from: "https://wiki.example.com", to: "http://10.0.0.5:8080", policy: { allow: [ { groups: [engineering] } ] } }
`;
}

function errorsOf(text: string): string[] {
  const r = loadConfigText(text, 'f.yaml');
  return r.ok ? [] : r.errors.map(formatIssue);
}

test('session.store redis: sentinel and cluster load; exactly one of url, sentinel and cluster, each node host:port', () => {
  const sentinel = loadConfigText(config('type: redis\nsentinel: { name: mymaster, nodes: ["10.0.0.1:26379", "[fd00::2]:26379"] }'), 'f.yaml');
  assert.ok(sentinel.ok, sentinel.ok ? '' : sentinel.errors.map(formatIssue).join('\n'));
  const cluster = loadConfigText(config('type: redis\ncluster: { nodes: ["redis-0.redis:6379"] }\nwaitReplicas: 1'), 'f.yaml');
  assert.ok(cluster.ok, cluster.ok ? '' : cluster.errors.map(formatIssue).join('\n'));

  assert.match(errorsOf(config('type: redis\nprefix: "x:"')).join('\n'), /f\.yaml:\d+:\d+: .*a redis store needs url, sentinel or cluster/);
  const both = errorsOf(config('type: redis\nurl: redis://r:6379\nsentinel: { name: m, nodes: ["s:26379"] }'));
  assert.equal(both.length, 1, both.join('\n'));
  assert.match(both[0]!, /^f\.yaml:12:\d+: .*give only one of url, sentinel and cluster \(url and sentinel are set\)/);
  assert.match(errorsOf(config('type: redis\ncluster: { nodes: ["redis-0"] }')).join('\n'), /expected host:port/);
  assert.match(errorsOf(config('type: redis\nsentinel: { name: m, nodes: [] }')).join('\n'), /sentinel\.nodes/);
  assert.match(errorsOf(config('type: redis\nsentinel: { name: m, nodes: ["s:1"], pasword: x }')).join('\n'), /unknown key "pasword"/);
});

test('tls.acme with a sentinel or cluster session store is accepted (its certificates go through the store\'s connection)', () => {
  const acme = 'tls: { acme: { email: ops@example.com } }\n';
  for (const store of ['sentinel: { name: m, nodes: ["s:26379"] }', 'cluster: { nodes: ["r:6379"] }', 'url: redis://r:6379']) {
    const errors = errorsOf(config(`type: redis\n${store}`, acme));
    assert.deepEqual(errors, [], errors.join('\n'));
  }
});

test('redisTopology: nodes parsed, passwords read from their files (one trailing newline dropped), waitReplicas passed on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-redis-pw-'));
  writeFileSync(join(dir, 'data'), 'data-password\n');
  writeFileSync(join(dir, 'sentinel'), 'sentinel-password');
  const t = redisTopology({
    prefix: 'p:',
    waitReplicas: 2,
    sentinel: { name: 'm', nodes: ['10.0.0.1:26379', '[fd00::2]:26380'], username: 'drawbridge', passwordFile: join(dir, 'data'), sentinelPasswordFile: join(dir, 'sentinel') },
  });
  assert.deepEqual(t, {
    prefix: 'p:',
    waitReplicas: 2,
    sentinel: { name: 'm', nodes: [{ host: '10.0.0.1', port: 26379 }, { host: 'fd00::2', port: 26380 }], username: 'drawbridge', password: 'data-password', sentinelPassword: 'sentinel-password' },
  });
  assert.deepEqual(parseRedisNode('redis-0.redis:6379'), { host: 'redis-0.redis', port: 6379 });
  assert.throws(() => redisTopology({ prefix: 'p:', cluster: { nodes: ['a:1'], passwordFile: join(dir, 'missing') } }), /session\.store\.cluster\.passwordFile/);
});
