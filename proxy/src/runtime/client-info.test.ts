// runtime/client-info.test.ts — the trusted-hop rule (SPEC §2 trustedProxies, §11): X-Forwarded-For walked from the
// right with every hop form proxies write, an unreadable hop making the client unknown (never the proxy), and
// X-Forwarded-Host/-Proto taken from the value the nearest trusted proxy wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { parseCidr, type Cidr } from '../policy/cidr.js';
import { clientInfo, hopAddress } from './client-info.js';

const TRUSTED: Cidr[] = ['10.0.0.0/8', 'fd00::/8'].map((t) => {
  const p = parseCidr(t);
  if (!p.ok) throw new Error(p.error);
  return p.cidr;
});

/** The parts of a request clientInfo reads. */
function request(peer: string | undefined, headers: IncomingHttpHeaders, tls = false): IncomingMessage {
  return { socket: { remoteAddress: peer, encrypted: tls }, headers: { host: 'app.example.com', ...headers } } as unknown as IncomingMessage;
}

test('hopAddress: addresses with and without a port, bracketed IPv6; anything else is no address', () => {
  const cases: [string, string | undefined][] = [
    ['203.0.113.5', '203.0.113.5'],
    ['203.0.113.5:4711', '203.0.113.5'],
    ['203.0.113.5:65535', '203.0.113.5'],
    ['2001:db8::1', '2001:db8::1'],
    ['[2001:db8::1]:4711', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ['[::ffff:10.1.2.3]:80', '::ffff:10.1.2.3'],
    ['unknown', undefined],
    ['UNKNOWN', undefined],
    ['_hidden', undefined],
    ['"[2001:db8::1]:4711"', undefined],
    ['203.0.113.5:', undefined],
    ['203.0.113.5:65536', undefined],
    ['203.0.113.5:47x1', undefined],
    ['203.0.113.5:123456', undefined],
    ['[2001:db8::1]:', undefined],
    ['[2001:db8::1]x', undefined],
    ['[2001:db8::1', undefined],
    ['[203.0.113.5]:80', undefined],
    ['[]', undefined],
    ['2001:db8::1:4711:x', undefined],
    ['203.0.113.5.6', undefined],
    ['010.0.0.1', undefined],
    ['host.example', undefined],
    ['for=203.0.113.5', undefined],
  ];
  for (const [hop, expected] of cases) assert.equal(hopAddress(hop), expected, hop);
});

test('an untrusted peer is the client; its X-Forwarded-* are not read', () => {
  const info = clientInfo(request('203.0.113.9', { 'x-forwarded-for': '10.1.2.3', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }), TRUSTED);
  assert.deepEqual(info, { ip: '203.0.113.9', trustedPeer: false, scheme: 'http', rawHost: 'app.example.com' });
  assert.equal(clientInfo(request('203.0.113.9', { 'x-forwarded-for': 'unknown' }), TRUSTED).ip, '203.0.113.9');
});

test('behind a trusted proxy: the first hop from the right that is not trusted, read in every form', () => {
  const ip = (xff: string | undefined) => clientInfo(request('10.0.0.1', xff === undefined ? {} : { 'x-forwarded-for': xff }), TRUSTED).ip;
  assert.equal(ip('198.51.100.7'), '198.51.100.7');
  assert.equal(ip('198.51.100.7:4711'), '198.51.100.7');
  assert.equal(ip('[2001:db8::1]:4711'), '2001:db8::1');
  assert.equal(ip('[2001:db8::1]'), '2001:db8::1');
  assert.equal(ip('2001:db8::1'), '2001:db8::1');
  // Trusted hops (with ports too) are skipped; what a client put further left is never reached.
  assert.equal(ip('6.6.6.6, 198.51.100.7:4711, 10.0.0.2:5555, [fd00::2]:80'), '198.51.100.7');
  assert.equal(ip('unknown, 198.51.100.7'), '198.51.100.7');
  // Every hop trusted: the leftmost; no header: the peer itself (a proxy's own request, e.g. a health check).
  assert.equal(ip('10.0.0.3, 10.0.0.2'), '10.0.0.3');
  assert.equal(ip(undefined), '10.0.0.1');
  assert.equal(ip(' , '), '10.0.0.1');
});

test('behind a trusted proxy: an unreadable client hop makes the client unknown, never the proxy', () => {
  for (const xff of ['unknown', '203.0.113.5:4711x', '[2001:db8::1]:x', 'garbage', '198.51.100.7, unknown', '198.51.100.7, 10.0.0.2:99999', '_hidden, 10.0.0.2']) {
    const info = clientInfo(request('10.0.0.1', { 'x-forwarded-for': xff }), TRUSTED);
    assert.equal(info.ip, undefined, xff);
    assert.ok(info.unknownHop !== undefined && xff.includes(info.unknownHop), xff);
    assert.equal(info.forwardedFor, xff.split(',').map((s) => s.trim()).join(', '), 'the chain still goes upstream as received');
  }
  const long = clientInfo(request('10.0.0.1', { 'x-forwarded-for': 'x'.repeat(500) }), TRUSTED);
  assert.equal(long.unknownHop, 'x'.repeat(64), 'cut for the log');
  assert.equal(clientInfo(request('10.0.0.1', { 'x-forwarded-for': '198.51.100.7' }), TRUSTED).unknownHop, undefined);
});

test('behind a trusted proxy: X-Forwarded-Host and -Proto count by the value the nearest proxy wrote (rightmost)', () => {
  const info = (headers: IncomingHttpHeaders, tls = false) => clientInfo(request('10.0.0.1', headers, tls), TRUSTED);
  // A proxy that appends leaves the client's value on the left.
  assert.equal(info({ 'x-forwarded-host': 'admin.example.com, app.example.com' }).rawHost, 'app.example.com');
  assert.equal(info({ 'x-forwarded-host': ' app.example.com ' }).rawHost, 'app.example.com');
  assert.equal(info({ 'x-forwarded-proto': 'https, http' }).scheme, 'http');
  assert.equal(info({ 'x-forwarded-proto': 'http,HTTPS' }).scheme, 'https');
  // Absent: the Host header and the connection. An empty rightmost value is kept (the host is then refused with 400).
  assert.equal(info({}).rawHost, 'app.example.com');
  assert.equal(info({}, true).scheme, 'https');
  assert.equal(info({ 'x-forwarded-host': 'admin.example.com, ' }).rawHost, '');
  // Not a scheme: the connection's.
  assert.equal(info({ 'x-forwarded-proto': 'https, wss' }).scheme, 'http');
  // Forwarded (RFC 7239) is never read.
  const fwd = info({ forwarded: 'for=10.1.2.3;host=admin.example.com;proto=https', 'x-forwarded-for': '198.51.100.7' });
  assert.deepEqual([fwd.ip, fwd.rawHost, fwd.scheme], ['198.51.100.7', 'app.example.com', 'http']);
});
