// runtime/request-origin.test.ts — requestOrigin is scheme://host of the exchange, whatever came before it (the last
// origin is reused only for the same scheme and host).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestOrigin, type Exchange } from './runtime.js';

const exchange = (scheme: 'http' | 'https', host: string | undefined) => ({ client: { scheme }, host }) as unknown as Exchange;

test('requestOrigin: scheme://host for each exchange, in any order; the same string object for the same origin again', () => {
  const seq: Array<['http' | 'https', string | undefined, string]> = [
    ['http', 'app.example.com', 'http://app.example.com'],
    ['http', 'app.example.com', 'http://app.example.com'],
    ['https', 'app.example.com', 'https://app.example.com'],
    ['https', 'app.example.com:8443', 'https://app.example.com:8443'],
    ['https', 'wiki.example.com', 'https://wiki.example.com'],
    ['http', 'wiki.example.com', 'http://wiki.example.com'],
    ['http', undefined, 'http://'],
    ['http', '', 'http://'],
    ['http', 'app.example.com', 'http://app.example.com'],
  ];
  for (const [scheme, host, origin] of seq) assert.equal(requestOrigin(exchange(scheme, host)), origin, `${scheme} ${host}`);
  const a = requestOrigin(exchange('https', 'x.example.com'));
  assert.equal(requestOrigin(exchange('https', ['x', '.example.com'].join(''))), a);
});
