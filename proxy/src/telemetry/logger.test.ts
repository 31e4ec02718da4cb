// telemetry/logger.test.ts — the hand-built request line (Logger.request) is exactly the line of the generic
// JSON.stringify path (info({ event: 'request', ... })), over generated fields: same key order, numbers and escaping.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { createLogger, type LogLevel, type RequestLogFields } from './logger.js';

/** A Writable that keeps every line written to it. */
function collector(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l !== '') lines.push(l);
      cb();
    },
  });
  return { stream, lines };
}

const TIME = /^\{"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)",/;

/** The line as the JSON.stringify path writes it, for the time found in `line`. */
function expectedLine(line: string, fields: RequestLogFields): string {
  const time = TIME.exec(line)?.[1];
  assert.ok(time, `a time at the start of ${line}`);
  return `{"time":"${time}","level":"info",${JSON.stringify(fields).slice(1)}`;
}

/** What JSON.parse gives back for the fields: numbers as JSON has them (-0 is 0, non-finite is null), undefined left out. */
function asJson(fields: RequestLogFields): Record<string, unknown> {
  const num = (n: number) => (Number.isFinite(n) ? (Object.is(n, -0) ? 0 : n) : null);
  const out: Record<string, unknown> = { time: 'T', level: 'info' };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = typeof v === 'number' ? num(v) : v;
  }
  return out;
}

/** Logs the fields both ways and checks each line against JSON.stringify's and JSON.parse's. */
function check(fields: RequestLogFields): void {
  const { stream, lines } = collector();
  const logger = createLogger({ stream, batch: false });
  logger.request(fields);
  logger.info({ ...fields });
  logger.close();
  assert.equal(lines.length, 2, 'one line from request(), one from info()');
  const [hand, generic] = lines;
  assert.equal(hand, expectedLine(hand, fields));
  assert.equal(generic, expectedLine(generic, fields));
  const parsed = JSON.parse(hand) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), Object.keys(asJson(fields)), 'key order');
  assert.deepEqual({ ...parsed, time: 'T' }, asJson(fields));
}

// Characters that stress escaping: JSON's escapes, U+2028/U+2029 (not escaped by JSON), lone and paired
// surrogates (a high one then a low one make a pair when they meet), emoji, non-ASCII, and any BMP code unit.
const unit = fc.oneof(
  fc.constantFrom('"', '\\', '\n', '\r', '\t', '\b', '\f', '\u0000', '\u0001', '\u001f', '\u007f', '\u2028', '\u2029', '\ud800', '\udbff', '\udc00', '\udfff', '😀', '👩‍💻', 'é', '漢', '/', '<', 'a', ' '),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: 'binary', maxLength: 3 }),
);
const text = fc.oneof(fc.constant(''), fc.string({ maxLength: 12 }), fc.string({ unit, maxLength: 12 }));
const number = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.1 + 0.2, 1e21, 1e-7, 123.456, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.integer({ min: 0, max: 599 }),
  fc.double().map((d) => Math.round(d * 1000) / 1000),
  // Times as the pipeline rounds them (thousandths of a millisecond), over the range a request can take.
  fc.integer({ min: 0, max: 1e12 }).map((k) => k / 1000),
  fc.double({ min: 0, max: 1e7, noNaN: true }).map((d) => Math.round(d * 1000) / 1000),
  fc.double(),
);
const flag = fc.option(fc.boolean(), { nil: undefined });

const requestFields: fc.Arbitrary<RequestLogFields> = fc
  .record({
    requestId: fc.oneof(fc.uuid(), text),
    route: text,
    method: fc.option(fc.oneof(fc.constantFrom('GET', 'POST', 'OPTIONS'), text), { nil: undefined }),
    host: text,
    path: text,
    status: number,
    durationMs: number,
    upstreamMs: fc.option(number, { nil: null }),
    ip: fc.oneof(fc.constantFrom('127.0.0.1', '::1', '::ffff:10.0.0.1'), text),
    user: text,
    email: text,
    decision: text,
    reasons: fc.array(text, { maxLength: 4 }),
    reason: fc.option(text, { nil: undefined }),
    ipUnknown: fc.option(fc.oneof(fc.constantFrom('unknown', '203.0.113.5:x'), text), { nil: undefined }),
    errorCode: fc.option(fc.oneof(fc.constantFrom('DRB_UPSTREAM_UNAVAILABLE', 'DRB_FORBIDDEN'), text), { nil: undefined }),
    cause: fc.option(fc.oneof(fc.constantFrom('ECONNREFUSED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), text), { nil: undefined }),
    aborted: flag,
    websocket: flag,
    frontDoor: fc.option(fc.constant('forward-auth' as const), { nil: undefined }),
  })
  .map((r) => {
    // The pipeline's key order; the optional fields only when set (as the pipeline does).
    const { reason, ipUnknown, errorCode, cause, aborted, websocket, frontDoor, ...rest } = r;
    const f: RequestLogFields = { event: 'request', ...rest };
    if (reason !== undefined) f.reason = reason;
    if (ipUnknown !== undefined) f.ipUnknown = ipUnknown;
    if (errorCode !== undefined) f.errorCode = errorCode;
    if (cause !== undefined) f.cause = cause;
    if (aborted !== undefined) f.aborted = aborted;
    if (websocket !== undefined) f.websocket = websocket;
    if (frontDoor !== undefined) f.frontDoor = frontDoor;
    return f;
  });

function sample(overrides: Partial<RequestLogFields> = {}): RequestLogFields {
  return {
    event: 'request',
    requestId: '0f0e6a43-5f0c-4d7a-9a57-5b3c3c2e5b1a',
    route: 'app',
    method: 'GET',
    host: 'app.example.com',
    path: '/deep/path',
    status: 200,
    durationMs: 1.234,
    upstreamMs: 0.5,
    ip: '127.0.0.1',
    user: 'alice',
    email: 'alice@example.com',
    decision: 'allow',
    reasons: ['rule-matched'],
    ...overrides,
  };
}

test('request line: hand-built text equals the JSON.stringify line for chosen edge cases', () => {
  const cases: Partial<RequestLogFields>[] = [
    {},
    { method: undefined },
    { upstreamMs: null, reasons: [] },
    { reasons: ['a', 'b"c', 'd\\e', ''] },
    { path: '/a"b\\c\n\u0000\u001f\u007f' },
    { path: '/\u2028\u2029', user: 'ünïcödé 漢字', email: '😀@example.com' },
    { path: '/\ud800', user: '\udc00', email: 'x\ud83d', decision: '\ude00y', host: '\ud83d\ude00' },
    { path: '', host: '', route: '', ip: '', user: '', email: '', decision: '', requestId: '' },
    { status: 0, durationMs: -0, upstreamMs: -0 },
    { durationMs: Number.NaN, upstreamMs: Number.POSITIVE_INFINITY, status: Number.NEGATIVE_INFINITY },
    { durationMs: 1e21, upstreamMs: 1e-7, status: 0.1 + 0.2 },
    { aborted: true },
    { websocket: true },
    { aborted: false, websocket: true },
    { frontDoor: 'forward-auth' },
    { ip: '', ipUnknown: 'unknown' },
    { ip: '', ipUnknown: '"x\\y\u0000', aborted: true },
    { errorCode: 'DRB_UPSTREAM_UNAVAILABLE', cause: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
  ];
  for (const c of cases) check(sample(c));
});

test('request line: hand-built text equals the JSON.stringify line over generated fields, and parses back', () => {
  fc.assert(fc.property(requestFields, (f) => check(f)), { numRuns: 2000 });
});

test('request line: the level, close() and the pretty format apply as to info()', () => {
  for (const level of ['error', 'warn'] as LogLevel[]) {
    const { stream, lines } = collector();
    const logger = createLogger({ level, stream, batch: false });
    logger.request(sample());
    logger.info({ ...sample() });
    assert.deepEqual(lines, [], `no request line at level ${level}`);
  }
  {
    const { stream, lines } = collector();
    const logger = createLogger({ level: 'debug', stream, batch: false });
    logger.request(sample());
    assert.equal(lines.length, 1, 'a request line at level debug');
    logger.close();
    logger.request(sample());
    assert.equal(lines.length, 1, 'no line once closed');
  }
  {
    const { stream, lines } = collector();
    const logger = createLogger({ format: 'pretty', stream, batch: false });
    const f = sample({ path: '/a b', upstreamMs: null, aborted: true });
    logger.request(f);
    logger.info({ ...f });
    logger.close();
    assert.equal(lines.length, 2);
    const strip = (l: string) => l.replace(/^\S+ /, '');
    assert.equal(strip(lines[0]), strip(lines[1]));
    assert.match(lines[0], /^\S+ INFO {2}request requestId=\S+ route=app method=GET host=app\.example\.com path="\/a b" status=200 durationMs=1\.234 upstreamMs=null .* reasons=\["rule-matched"\] aborted=true$/);
  }
});

test('request line: batched lines leave together, in order, within the turn', async () => {
  const { stream, lines } = collector();
  const logger = createLogger({ stream });
  logger.request(sample({ path: '/one' }));
  logger.info({ ...sample({ path: '/two' }) });
  assert.deepEqual(lines, [], 'nothing written before the batch is flushed');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { path: string }).path), ['/one', '/two']);
  assert.equal(lines[0], expectedLine(lines[0], sample({ path: '/one' })));
  logger.close();
});
