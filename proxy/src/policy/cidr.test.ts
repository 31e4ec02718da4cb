// policy/cidr.test.ts — address and range parsing, IPv4-mapped IPv6, containment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cidrContains, parseCidr, parseIp } from './cidr.js';
import { cidrSchema } from './schema-kit.js';

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

test('IPv6 spellings: compressed, uppercase, embedded IPv4, zones', () => {
  const words = (ip: string) => {
    const a = parseIp(ip);
    return a?.family === 6 ? [...a.words] : a;
  };
  assert.deepEqual(words('::'), [0, 0, 0, 0]);
  assert.deepEqual(words('1::'), [0x10000, 0, 0, 0]);
  assert.deepEqual(words('::2'), [0, 0, 0, 2]);
  assert.deepEqual(words('1:2:3:4:5:6:1.2.3.4'), [0x10002, 0x30004, 0x50006, 0x01020304]);
  assert.deepEqual(words('1::FFFF:1.2.3.4'), [0x10000, 0, 0xffff, 0x01020304]);
  assert.deepEqual(words('2001:DB8::1%25eth0'), [0x20010db8, 0, 0, 1]);
  for (const bad of ['1:2:3:4:5:6:7:', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:1.2.3.4', '::g', '1:::2', '%eth0', '1::2:3:4:5:6:7:8']) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test('property: parseIp reads every IPv6 spelling the WHATWG URL parser reads, to the same address', () => {
  const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  fc.assert(
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.boolean(), fc.boolean(), (g, upper, compress) => {
      let text = g.map((x) => x.toString(16)).join(':');
      if (compress) text = text.replace(/(^|:)0(:0)+(:|$)/, '::');
      if (upper) text = text.toUpperCase();
      const canonical = new URL(`http://[${text}]/`).hostname;
      const parsed = parseIp(text);
      assert.ok(parsed, text);
      const again = parseIp(canonical.slice(1, -1));
      assert.deepEqual(parsed, again, `${text} vs ${canonical}`);
      if (parsed.family === 6) {
        assert.deepEqual([...parsed.words], [0, 2, 4, 6].map((i) => ((g[i]! << 16) | g[i + 1]!) >>> 0));
      } else {
        assert.deepEqual(g.slice(0, 6), [0, 0, 0, 0, 0, 0xffff]);
      }
    }),
    { numRuns: 2000 },
  );
});
