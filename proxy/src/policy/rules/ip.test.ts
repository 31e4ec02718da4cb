// policy/rules/ip.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('ip: IPv4 and IPv6 ranges', () => {
  const check = rule({ ip: ['10.0.0.0/8', 'fd00::/8'] });
  const v = check(input({ ip: '10.200.0.1' }));
  expectVerdict(v, true, 'ip-ok');
  assert.equal(v.reasons[0]!.detail, '10.0.0.0/8');
  expectVerdict(check(input({ ip: 'fd12:3456::1' })), true, 'ip-ok');
  expectVerdict(check(input({ ip: '192.168.1.1' })), false, 'ip-outside');
  expectVerdict(check(input({ ip: '2001:db8::1' })), false, 'ip-outside');
  assert.equal(check(input({ ip: '192.168.1.1' })).unknown, undefined, 'a known address outside is a plain failure');
});

test('ip: an unknown or unparsable address is undecided, never a match, whatever the ranges', () => {
  const check = rule({ ip: ['0.0.0.0/0', '::/0'] });
  for (const ip of [undefined, '', 'unknown', 'not-an-ip', '203.0.113.5:4711', '[2001:db8::1]:4711']) {
    const v = check(input({ ip }));
    expectVerdict(v, false, 'ip-unknown');
    assert.equal(v.unknown, true, String(ip));
  }
});

test('ip: an IPv4-mapped IPv6 client matches IPv4 ranges', () => {
  const check = rule({ ip: ['10.0.0.0/8'] });
  expectVerdict(check(input({ ip: '::ffff:10.1.2.3' })), true, 'ip-ok');
  expectVerdict(check(input({ ip: '::ffff:11.1.2.3' })), false, 'ip-outside');
});

test('ip: needs no identity', () => {
  expectVerdict(rule({ ip: ['10.0.0.0/8'] })(input({}, null)), true, 'ip-ok');
});

test('ip: an invalid CIDR is a schema error naming it', () => {
  const errors = ruleErrors({ ip: ['10.0.0.0/8', '10.0.0.300/8', '10.1.0.0/8'] });
  assert.equal(errors.length, 2);
  assert.match(errors[0]!, /^ip\.1: invalid CIDR "10\.0\.0\.300\/8"/);
  assert.match(errors[1]!, /^ip\.2: .*range starts at 10\.0\.0\.0\/8/);
});
