// policy/context.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentFamily, bindingOf, networkOf } from './context.js';

test('networkOf: IPv4 /24 and IPv6 /48 by default, any length when asked, unknown stays unknown', () => {
  assert.equal(networkOf('203.0.113.77'), '203.0.113.0/24');
  assert.equal(networkOf('203.0.113.77', 32), '203.0.113.77/32');
  assert.equal(networkOf('203.0.113.77', 16), '203.0.0.0/16');
  assert.equal(networkOf('255.255.255.255', 0), '0.0.0.0/0');
  assert.equal(networkOf('::ffff:203.0.113.77'), '203.0.113.0/24');
  assert.equal(networkOf('2001:db8:aaaa:bbbb::1'), '2001:db8:aaaa::/48');
  assert.equal(networkOf('2001:db8:aaaa:bbbb::1', 24, 56), '2001:db8:aaaa:bb00::/56');
  assert.equal(networkOf('2001:db8::1', 24, 128), '2001:db8::1/128');
  assert.equal(networkOf(undefined), undefined);
  assert.equal(networkOf('not-an-address'), undefined);
});

test('agentFamily: browser and system without versions', () => {
  const chrome = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
  assert.equal(agentFamily(chrome), 'chrome/windows');
  assert.equal(agentFamily(chrome.replace('131.0.0.0', '132.0.1.2')), 'chrome/windows', 'an update is no change');
  assert.equal(agentFamily(`${chrome} Edg/131.0.0.0`), 'edge/windows');
  assert.equal(agentFamily('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'), 'firefox/linux');
  assert.equal(agentFamily('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15'), 'safari/macos');
  assert.equal(agentFamily('Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1'), 'safari/ios');
  assert.equal(agentFamily('Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36'), 'chrome/android');
  assert.equal(agentFamily('curl/8.5.0'), 'curl/other');
  assert.equal(agentFamily(undefined), 'none');
  assert.equal(agentFamily(''), 'none');
  assert.equal(agentFamily('x'.repeat(100_000)), 'other/other');
});

test('bindingOf: address, certificate fingerprint and browser family of the sign-in', () => {
  assert.deepEqual(bindingOf('203.0.113.7', 'curl/8', undefined), { ip: '203.0.113.7', agent: 'curl/other' });
  assert.deepEqual(bindingOf(undefined, undefined, { fingerprint256: 'ab', subject: {}, issuer: {}, san: [], source: 'header' }), { device: 'ab', agent: 'none' });
});
