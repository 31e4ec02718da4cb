// config/issues.test.ts — validate's messages: every zod issue kind the schema produces in words that name the key and
// what is expected, the key meant by an unknown one, and a mis-indented key reported at its own line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from './load.js';
import { formatIssue } from './locate.js';

const SECRET = 'a-session-secret-that-is-long-enough-0123456789';

function errors(text: string): string[] {
  const r = loadConfigText(text, 'f.yaml');
  assert.equal(r.ok, false, 'expected the configuration to be refused');
  return r.ok ? [] : r.errors.map(formatIssue);
}

/** The 1-based line holding needle. */
function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

function find(errs: string[], pattern: RegExp): string {
  const hit = errs.find((e) => pattern.test(e));
  assert.ok(hit, `no error matches ${pattern}:\n${errs.join('\n')}`);
  return hit;
}

// zod's own wording, which names neither the key nor what to write.
const ZOD_PHRASES = [/Invalid input/i, /Invalid option/i, /Invalid discriminator/i, /Invalid key in record/i, /Invalid string/i, /Invalid element/i, /Too small/i, /Too big/i, /Unrecognized key/i, /received (string|number|boolean|object|array|null|undefined)/i, /expected (string|number|array|object|boolean),/];

// One file with each kind of issue the schema can raise: invalid_type (scalar for a list, number for text, a list
// item that is no mapping, a missing key), invalid_value (enum, discriminator), invalid_union (plain), too_small
// (string, number, list), invalid_format (url, regex), invalid_key (record key), unrecognized_keys, custom (refine).
const EVERY_KIND = `publicUrl: 3
listen: 8080
idp:
  issuer: not a url
  clientId: ""
  clientSecret: s3cret
  userinfo: sometimes
  scopes: openid
session:
  secret: ${SECRET}
  store: { type: memcached }
  idleTimout: 1h
log: { level: loud }
limits: { maxHeaderSize: 10 }
policies:
  "bad name": { allow: [ { authenticated: true } ] }
routes:
  - name: app
    from: https://app.example.com
    to: http://127.0.0.1:3000
    methods: GET
    bearer: maybe
    policy: 3
    rewrite: { prefix: 3 }
    setRequestHeaders: { "bad header": x }
    removeRequestHeaders: []
    keepRequestHeaders: [X-Foo]
    identityHeaders: true
    session: { idleTimeout: 5 }
    upstreamTls: { insecureSkipVerify: "yes" }
  - name: b
    from: https://b.example.com
  - 7
`;

test('validate: every kind of schema issue reads in words; none is zod\'s generic text', () => {
  const errs = errors(EVERY_KIND);
  for (const e of errs) for (const phrase of ZOD_PHRASES) assert.doesNotMatch(e, phrase, `zod's wording in: ${e}`);
  // Each names its key and what is expected.
  assert.equal(find(errs, /routes\[0\]\.methods:/), `f.yaml:${lineOf(EVERY_KIND, 'methods: GET')}:14: routes[0].methods: expected a list, got a string "GET" — write methods: [GET]`);
  find(errs, /^f\.yaml:1:12: publicUrl: expected text, got a number 3$/);
  find(errs, /idp\.issuer: expected the issuer URL/);
  find(errs, /idp\.clientId: must not be empty/);
  find(errs, /idp\.userinfo: expected one of "auto", "always", "never"; got a string "sometimes"/);
  find(errs, /idp\.scopes: expected a list, got a string "openid" — write scopes: \[openid\]/);
  find(errs, /session\.store\.type: expected one of "memory", "redis"; got a string "memcached"/);
  find(errs, /log\.level: expected one of "error", "warn", "info", "debug"; got a string "loud"/);
  find(errs, /limits\.maxHeaderSize: must be at least 1024, got a number 10/);
  find(errs, /policies\.bad name: invalid key "bad name": policy name: letters/);
  find(errs, /routes\[0\]\.bearer: expected true or false or a mapping \(key: value\), got a string "maybe"/);
  find(errs, /routes\[0\]\.policy: expected text or a mapping \(key: value\), got a number 3/);
  find(errs, /routes\[0\]\.rewrite\.prefix: expected text, got a number 3/);
  find(errs, /routes\[0\]\.setRequestHeaders\.bad header: invalid key "bad header": invalid HTTP header name/);
  find(errs, /routes\[0\]\.keepRequestHeaders\[0\]: only an override header/);
  find(errs, /routes\[0\]\.identityHeaders: expected false or a mapping \(key: value\), got true/);
  find(errs, /routes\[0\]\.session\.idleTimeout: expected text, got a number 5/);
  find(errs, /routes\[0\]\.upstreamTls\.insecureSkipVerify: expected true or false, got a string "yes"/);
  find(errs, /routes\[1\]: missing required key "to"/);
  find(errs, /routes\[2\]: expected a mapping \(key: value\), got a number 7/);
  find(errs, /session: unknown key "idleTimout" \(did you mean "idleTimeout"\?\)/);
});

test('validate: an empty list, an empty routes list and a wrong type in a policy rule read in words', () => {
  const text = `publicUrl: https://auth.example.com
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s, scopes: [] , mfaAcrValues: [""] }
session: { secret: ${SECRET} }
policies:
  p: { allow: [ { groups: engineering }, { authAge: [1] } ] }
routes: []
`;
  const errs = errors(text);
  for (const e of errs) for (const phrase of ZOD_PHRASES) assert.doesNotMatch(e, phrase, `zod's wording in: ${e}`);
  find(errs, /routes: at least one route is needed/);
  find(errs, /idp\.mfaAcrValues\[0\]: must not be empty/);
  find(errs, /policies\.p\.allow\[0\]\.groups: expected a list, got a string "engineering" — write groups: \[engineering\]/);
});

test('validate: an unknown key suggests the closest known key, at every level', () => {
  const text = `publicUrl: https://auth.example.com
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s, clientid: x }
session: { secret: ${SECRET}, idleTimout: 1h }
trustedProxis: [10.0.0.0/8]
routes:
  - name: a
    from: https://a.example.com
    to: http://127.0.0.1:1
    public: true
    stripPrefx: true
    zzz: 1
`;
  const errs = errors(text);
  find(errs, /idp: unknown key "clientid" \(did you mean "clientId"\?\)/);
  find(errs, /session: unknown key "idleTimout" \(did you mean "idleTimeout"\?\)/);
  find(errs, new RegExp(`^f\\.yaml:${lineOf(text, 'trustedProxis')}:1: unknown key "trustedProxis" \\(did you mean "trustedProxies"\\?\\)$`));
  find(errs, new RegExp(`^f\\.yaml:${lineOf(text, 'stripPrefx')}:5: routes\\[0\\]: unknown key "stripPrefx" \\(did you mean "stripPrefix"\\?\\)$`));
  // Nothing near: no guess.
  find(errs, /routes\[0\]: unknown key "zzz"$/);
});

test('validate: a mis-indented key is reported at its own line, with where it belongs', () => {
  // 1. A route field indented too little: it lands in the route's parent (here a policy key at the route level).
  const tooLittle = `publicUrl: https://auth.example.com
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: ${SECRET} }
routes:
  - name: a
    from: https://a.example.com
    to: http://127.0.0.1:1
    policy:
      allow:
        - groups: [staff]
    deny:
      - groups: [contractors]
`;
  find(errors(tooLittle), new RegExp(`^f\\.yaml:${lineOf(tooLittle, '    deny:')}:5: routes\\[0\\]: unknown key "deny" here: it belongs under routes\\[0\\]\\.policy — check its indentation$`));

  // 2. A key indented one level too far: a session key written inside session.store.
  const tooFar = `publicUrl: https://auth.example.com
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session:
  secret: ${SECRET}
  store:
    type: memory
    idleTimeout: 1h
routes:
  - { name: a, from: https://a.example.com, to: http://127.0.0.1:1, public: true }
`;
  find(errors(tooFar), new RegExp(`^f\\.yaml:${lineOf(tooFar, 'idleTimeout')}:5: session\\.store: unknown key "idleTimeout" here: it belongs under session — check its indentation$`));

  // 3. A block's keys not indented under it: idp is empty and its keys are at the top level.
  const flat = `publicUrl: https://auth.example.com
idp:
issuer: https://idp.example.com
clientId: c
session: { secret: ${SECRET} }
routes:
  - { name: a, from: https://a.example.com, to: http://127.0.0.1:1, public: true }
`;
  const errs = errors(flat);
  find(errs, new RegExp(`^f\\.yaml:${lineOf(flat, 'issuer:')}:1: unknown key "issuer" here: it belongs under idp — check its indentation$`));
  find(errs, new RegExp(`^f\\.yaml:${lineOf(flat, 'clientId:')}:1: unknown key "clientId" here: it belongs under idp — check its indentation$`));
  find(errs, /idp: expected a mapping \(key: value\), got an empty value — its keys go on the lines below it, indented under it/);

  // 4. A route key at the top level (the route's lines lost their indentation).
  const outOfList = `publicUrl: https://auth.example.com
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: ${SECRET} }
routes:
  - { name: a, from: https://a.example.com, to: http://127.0.0.1:1, public: true }
methods: [GET]
`;
  find(errors(outOfList), new RegExp(`^f\\.yaml:${lineOf(outOfList, 'methods:')}:1: unknown key "methods" here: it belongs under routes\\[…\\] — check its indentation$`));
});
