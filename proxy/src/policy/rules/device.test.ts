// policy/rules/device.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceCertificate } from '../input.js';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

const FP = 'ab'.repeat(32);
const laptop: DeviceCertificate = {
  fingerprint256: FP,
  subject: { CN: 'laptop-42', O: 'Example', OU: 'Devices\nFinance' },
  issuer: { CN: 'Example Device CA', O: 'Example' },
  san: ['URI:urn:device:laptop-42', 'DNS:laptop-42.corp.example'],
  source: 'tls',
};

test('device: true needs a verified certificate, any', () => {
  const check = rule({ device: true });
  expectVerdict(check(input({ device: laptop })), true, 'device-ok');
  expectVerdict(check(input({})), false, 'device-missing');
});

test('device: without a certificate it is false whoever is signed in, and not undecided (`not` of it is true)', () => {
  const v = rule({ device: { san: ['URI:urn:device:laptop-42'] } })(input({}));
  expectVerdict(v, false, 'device-missing');
  assert.equal(v.unknown, undefined);
  expectVerdict(rule({ not: { device: true } })(input({})), true, 'not-matched');
});

test('device: issuer and subject fields, every one listed must equal one of its values; a repeated field matches any of its values', () => {
  expectVerdict(rule({ device: { issuer: { CN: 'Example Device CA' }, subject: { O: 'Example', OU: 'Finance' } } })(input({ device: laptop })), true, 'device-ok');
  expectVerdict(rule({ device: { subject: { CN: ['laptop-41', 'laptop-42'] } } })(input({ device: laptop })), true, 'device-ok');
  const wrongIssuer = rule({ device: { issuer: { CN: 'Other CA' } } })(input({ device: laptop }));
  expectVerdict(wrongIssuer, false, 'device-unauthorized');
  assert.equal(wrongIssuer.reasons[0]!.detail, 'issuer CN');
  expectVerdict(rule({ device: { subject: { O: 'Example', L: 'Paris' } } })(input({ device: laptop })), false, 'device-unauthorized');
  // Compared whole: a prefix or a part of a joined value is no match.
  expectVerdict(rule({ device: { subject: { OU: 'Devices\nFinance' } } })(input({ device: laptop })), false, 'device-unauthorized');
  expectVerdict(rule({ device: { subject: { CN: 'laptop-4' } } })(input({ device: laptop })), false, 'device-unauthorized');
});

test('device: SAN entries and fingerprints (colons and case ignored)', () => {
  expectVerdict(rule({ device: { san: ['URI:urn:device:other', 'URI:urn:device:laptop-42'] } })(input({ device: laptop })), true, 'device-ok');
  expectVerdict(rule({ device: { san: ['URI:urn:device:laptop-4'] } })(input({ device: laptop })), false, 'device-unauthorized');
  const colons = FP.toUpperCase().match(/../g)!.join(':');
  expectVerdict(rule({ device: { fingerprints: [colons] } })(input({ device: laptop })), true, 'device-ok');
  expectVerdict(rule({ device: { fingerprints: ['cd'.repeat(32)] } })(input({ device: laptop })), false, 'device-unauthorized');
  // Every criterion must hold.
  expectVerdict(rule({ device: { fingerprints: [FP], san: ['URI:urn:device:nope'] } })(input({ device: laptop })), false, 'device-unauthorized');
});

test('device: schema errors', () => {
  assert.match(ruleErrors({ device: {} })[0]!, /at least one of issuer, subject, san, fingerprints/);
  assert.match(ruleErrors({ device: { fingerprints: ['abc'] } })[0]!, /SHA-256 fingerprint/);
  assert.match(ruleErrors({ device: { san: ['urn:device:1'] } })[0]!, /TYPE:VALUE/);
  assert.notEqual(ruleErrors({ device: { serial: '01' } }).length, 0);
  assert.notEqual(ruleErrors({ device: false }).length, 0);
});
