// policy/cidr.test.ts — address and range parsing, IPv4-mapped IPv6, containment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, cidrSchema, parseCidr, parseIp } from './cidr.js';

function range(text: string) {
  const p = parseCidr(text);
  if (!p.ok) throw new Error(p.error);
  return p.cidr;
}
function inRange(cidr: string, ip: string): boolean {
  const addr = parseIp(ip);
  assert.ok(addr, `parses ${ip}`);
  return cidrContains(range(cidr), addr);
}

test('IPv4 ranges', () => {
  assert.ok(inRange('10.0.0.0/8', '10.1.2.3'));
  assert.ok(!inRange('10.0.0.0/8', '11.0.0.1'));
  assert.ok(inRange('192.168.1.0/24', '192.168.1.255'));
  assert.ok(!inRange('192.168.1.0/24', '192.168.2.0'));
  assert.ok(inRange('0.0.0.0/0', '255.255.255.255'));
  assert.ok(inRange('203.0.113.7', '203.0.113.7'));
  assert.ok(!inRange('203.0.113.7', '203.0.113.8'));
  assert.ok(inRange('128.0.0.0/1', '200.0.0.1'));
});

test('IPv6 ranges', () => {
  assert.ok(inRange('2001:db8::/32', '2001:db8:1::5'));
  assert.ok(!inRange('2001:db8::/32', '2001:db9::1'));
  assert.ok(inRange('::1', '::1'));
  assert.ok(inRange('fe80::/10', 'fe80::1%eth0'));
  assert.ok(inRange('2001:db8:0:0:8000::/65', '2001:db8::8000:0:0:1'));
  assert.ok(!inRange('2001:db8:0:0:8000::/65', '2001:db8::7fff:0:0:1'));
  assert.ok(inRange('::/0', '2001:db8::1'));
});

test('IPv4-mapped IPv6 addresses match IPv4 ranges, and mapped ranges are IPv4 ranges', () => {
  assert.ok(inRange('10.0.0.0/8', '::ffff:10.1.2.3'));
  assert.ok(inRange('10.0.0.0/8', '::FFFF:a01:203'));
  assert.ok(!inRange('10.0.0.0/8', '::ffff:11.1.2.3'));
  assert.ok(inRange('::ffff:10.0.0.0/104', '10.9.9.9'));
  assert.ok(!inRange('::/0', '10.1.2.3'), 'an IPv6 range does not hold IPv4 addresses');
  assert.ok(!inRange('0.0.0.0/0', '2001:db8::1'), 'an IPv4 range does not hold IPv6 addresses');
});

test('invalid addresses are not parsed', () => {
  for (const bad of ['', '10.0.0', '10.0.0.256', '010.0.0.1', '1.2.3.4.5', 'a.b.c.d', '1::2::3', '12345::', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '::1.2.3.4:5', 'localhost']) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test('invalid ranges have clear messages', () => {
  const cases: Array<[string, RegExp]> = [
    ['10.0.0.0/33', /at most 32/],
    ['2001:db8::/129', /at most 128/],
    ['10.1.0.0/8', /range starts at 10\.0\.0\.0\/8/],
    ['2001:db8::1/32', /range starts at 2001:db8::\/32/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['example.com/8', /not an IPv4 address/],
    ['fe80::/10%eth0', /prefix length/],
    ['fe80::%eth0/10', /zone/],
  ];
  for (const [text, message] of cases) {
    const p = parseCidr(text);
    assert.equal(p.ok, false, text);
    if (!p.ok) assert.match(p.error, message, text);
    const s = cidrSchema.safeParse(text);
    assert.equal(s.success, false);
    assert.match(s.error!.issues[0]!.message, /invalid CIDR/);
  }
});
