// routes/reachability.test.ts — the routes `validate` calls unreachable are exactly those RouteTable.match never
// returns: what a regex source guarantees, and a property over random small route sets held against the real table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { configSchema } from '../schema/config.js';
import { checkSemantics } from '../config/semantic.js';
import { compileConfig } from './compile.js';
import { regexShape } from './reachability.js';

// [source, lead, allAfterLead, only]
const SHAPES: Array<[string, string, boolean, string?]> = [
  ['^/admin/', '/admin/', true],
  ['^/admin/.*', '/admin/', true],
  ['^/admin/.*$', '/admin/', true],
  ['^/admin$', '/admin', false, '/admin'],
  ['^\\/admin\\.php$', '/admin.php', false, '/admin.php'],
  ['^/exports/[0-9]+\\.csv$', '/exports/', false],
  ['^/items?', '/item', false],
  ['^/items*/x', '/item', false],
  ['^/a{2}', '/', false],
  ['^/a\\d', '/a', false],
  ['^/a\\b', '/a', false],
  ['^/a(?=b)', '/a', false],
  ['^/a|^/b', '', false],
  ['^/(a|b)', '/', false],
  ['^/[|]x', '/', false],
  ['^/a\\|b', '/a|b', true],
  ['/admin', '', false],
  ['admin$', '', false],
  ['', '', true],
  ['.*', '', true],
  ['$', '', true],
  ['/', '', true],
  ['/.*', '', true],
  ['/$', '', false],
  ['^$', '', false, ''],
  ['^', '', true],
];

for (const [source, lead, allAfterLead, only] of SHAPES) {
  test(`regexShape(${JSON.stringify(source)}): lead ${JSON.stringify(lead)}${allAfterLead ? ', everything after it' : ''}${only !== undefined ? `, only ${JSON.stringify(only)}` : ''}`, () => {
    const shape = regexShape(source);
    assert.deepEqual(shape, { lead, allAfterLead, ...(only !== undefined ? { only } : {}) });
    // What the shape claims holds of the regex itself, on every probe.
    const re = new RegExp(source);
    for (const probe of ['', '/', '/a', '/aa', '/a/b', '/admin', '/admin/', '/admin/x', '/admin.php', '/adminx', '/items', '/item/x', '/exports/1.csv', '/a|b', '/a|bc', '/b', '/x/']) {
      if (re.test(probe)) assert.ok(probe.startsWith(shape.lead), `${source} matches ${probe}, which does not start with ${shape.lead}`);
      if (shape.allAfterLead && probe.startsWith(shape.lead)) assert.ok(re.test(probe) || !probe.startsWith('/'), `${source} should match ${probe}`);
      if (shape.only !== undefined && re.test(probe)) assert.equal(probe, shape.only);
    }
  });
}

const HOSTS = ['a.test', 'a.test:8443', '*.test', '*.test:8443', 'b.test'];
const PREFIXES = ['/', '/a', '/a/b', '/b'];
// Regexes whose matches the analysis reads exactly, next to any of the others: for these, "reported" must mean
// "never matched" and "not reported" must mean "some request below matches it".
const REGEXES = ['^/a/', '^/a', '^/a/b$', '^/c', '.*', '^/a/x', '^/a//b', '^/b/[0-9]+$', 'x$', '^/d|/e$', '^/%62$'];
const METHODS: Array<string[] | undefined> = [undefined, ['GET'], ['POST']];
const REQUEST_HOSTS: Array<[string, number | undefined]> = [
  ['a.test', undefined],
  ['a.test', 8443],
  ['a.test', 9000],
  ['b.test', undefined],
  ['b.test', 8443],
  ['q.test', undefined],
  ['q.test', 8443],
  ['q.test', 9000],
];
const REQUEST_PATHS = ['/', '/a', '/a/', '/ab', '/a/b', '/a/b/', '/a/b/c', '/a/z', '/a/x', '/a/xy', '/b', '/b/1', '/bb', '/c', '/cc', '/d', '/zd', '/ze', '/zz', '/zx', '/x'];

const spec = fc.record({
  host: fc.constantFrom(...HOSTS),
  regex: fc.option(fc.constantFrom(...REGEXES), { nil: undefined }),
  prefix: fc.constantFrom(...PREFIXES),
  methods: fc.constantFrom(...METHODS),
});

test('validate reports a regex route exactly when RouteTable.match never returns it (property)', () => {
  fc.assert(
    fc.property(fc.array(spec, { minLength: 1, maxLength: 7 }), (specs) => {
      // Two prefix routes with one host and prefix are another error: keep the first.
      const seen = new Set<string>();
      const kept = specs.filter((s) => s.regex !== undefined || (!seen.has(`${s.host}${s.prefix}`) && seen.add(`${s.host}${s.prefix}`)));
      const config = configSchema.parse({
        publicUrl: 'https://auth.example.com',
        trustedProxies: ['10.0.0.0/8'],
        idp: { issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's' },
        session: { secret: 'a-session-secret-that-is-long-enough-0123456789' },
        routes: kept.map((s, i) => ({
          name: `r${i}`,
          from: `https://${s.host}${s.regex !== undefined || s.prefix === '/' ? '' : s.prefix}`,
          to: 'http://10.0.0.1',
          public: true,
          ...(s.regex !== undefined ? { regex: s.regex } : {}),
          ...(s.methods ? { methods: s.methods } : {}),
        })),
      });
      const issues = checkSemantics(config);
      for (const issue of issues) assert.match(issue.message, /can never match/);
      const reported = new Set(issues.map((i) => i.path[1] as number));

      const table = compileConfig(config).table;
      const reached = new Set<number>();
      for (const [host, port] of REQUEST_HOSTS) {
        for (const path of REQUEST_PATHS) {
          for (const method of ['GET', 'POST']) {
            const m = table.match(host, port, path, method);
            if (!('status' in m)) reached.add(m.index);
          }
        }
      }
      kept.forEach((s, i) => {
        const where = `routes[${i}] (${s.host} ${s.regex ?? s.prefix}) in ${JSON.stringify(kept)}\n${issues.map((x) => x.message).join('\n')}`;
        if (reported.has(i)) assert.ok(!reached.has(i), `reported, yet matched: ${where}`);
        else assert.ok(reached.has(i), `not reported, yet never matched: ${where}`);
        if (s.regex === undefined) assert.ok(!reported.has(i), `a prefix route reported: ${where}`);
      });
      return true;
    }),
    { numRuns: 1500 },
  );
});
