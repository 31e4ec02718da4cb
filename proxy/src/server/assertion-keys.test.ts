// server/assertion-keys.test.ts — what a reload may change of `assertion` (its key files: a rotation; not its header
// or ttl), and the key files read with errors that name the setting and the file.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigText } from '../config/load.js';
import type { Config } from '../schema/config.js';
import { readAssertionKeys } from './assertion-keys.js';
import { reloadable } from './server.js';

function load(assertion: string): Config {
  const r = loadConfigText(
    `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
${assertion ? `assertion: ${assertion}\n` : ''}routes:
  - { name: app, from: "https://app.example.com", to: "http://10.0.0.1", public: true }
`,
    'f.yaml',
  );
  assert.ok(r.ok, JSON.stringify(r));
  return r.config;
}

test('reload: the assertion key files are taken (a rotation); header and ttl wait for a restart; a keyFile taken out keeps the key', () => {
  const running = load('{ keyFile: a.pem }');
  const rotated = reloadable(running, load('{ keyFile: b.pem, previousKeys: [a.pub] }'));
  assert.deepEqual(rotated.kept, []);
  assert.equal(rotated.next.assertion.keyFile, 'b.pem');
  assert.deepEqual(rotated.next.assertion.previousKeys, ['a.pub']);

  const other = reloadable(running, load('{ keyFile: b.pem, header: X-Other, ttl: 5m }'));
  assert.deepEqual(other.kept, ['assertion.header', 'assertion.ttl']);
  assert.equal(other.next.assertion.header, 'X-Drawbridge-Assertion');
  assert.equal(other.next.assertion.ttl, '2m');
  assert.equal(other.next.assertion.keyFile, 'b.pem', 'the key still rotates');

  const removed = reloadable(running, load(''));
  assert.deepEqual(removed.kept, ['assertion.keyFile']);
  assert.equal(removed.next.assertion.keyFile, undefined, 'no file to read: the key in force stays (readAssertionKeys gives none)');
  assert.deepEqual(reloadable(load(''), load('{ keyFile: a.pem }')).kept, [], 'a first keyFile is taken');
});

test('readAssertionKeys: the files named, the fallback key without a keyFile, an unreadable file named with its setting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-assertion-keys-'));
  writeFileSync(join(dir, 'key.pem'), 'PRIVATE');
  writeFileSync(join(dir, 'old.pem'), 'PUBLIC');
  const config = load(`{ keyFile: ${join(dir, 'key.pem')}, previousKeys: [${join(dir, 'old.pem')}] }`);
  assert.deepEqual(readAssertionKeys(config.assertion, 'FALLBACK'), { privateKeyPem: 'PRIVATE', previousPublicKeysPem: ['PUBLIC'] });
  assert.deepEqual(readAssertionKeys(load('').assertion, 'FALLBACK'), { privateKeyPem: 'FALLBACK', previousPublicKeysPem: [] });
  assert.deepEqual(readAssertionKeys(load('').assertion), { previousPublicKeysPem: [] });
  const missing = join(dir, 'missing.pem');
  assert.throws(() => readAssertionKeys(load(`{ keyFile: ${missing} }`).assertion), { message: `assertion.keyFile: cannot read ${missing} (ENOENT)` });
  assert.throws(() => readAssertionKeys(load(`{ keyFile: ${join(dir, 'key.pem')}, previousKeys: [${missing}] }`).assertion), { message: `assertion.previousKeys[0]: cannot read ${missing} (ENOENT)` });
});
