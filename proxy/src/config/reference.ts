// config/reference.ts — the configuration reference in Markdown (docs/configuration.md), generated from the
// JSON Schema of the zod schema: every key with its type, default and description. Run directly, it prints it:
// `node --import tsx proxy/src/config/reference.ts > docs/configuration.md`.
import { pathToFileURL } from 'node:url';
import { configJsonSchema } from '../schema/config.js';

/** The part of JSON Schema that `z.toJSONSchema` emits for this configuration. */
interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
}

const DURATION_PATTERN = '^(\\d+(?:\\.\\d+)?)(ms|s|m|h|d)$';

/** Prose before a section's table, by section path. */
const INTROS: Record<string, string> = {
  'routes[]': [
    'How a request finds its one route (SPEC §3). The host first: the exact host with the request\'s port, the exact host,',
    'the wildcard with the port, the wildcard (`*.example.com` is one label: `a.example.com`, never `a.b.example.com` or',
    '`example.com`). An exact host\'s routes replace the wildcard\'s, they never add to them. A route without a port in',
    '`from` serves its host on every port; a route naming a port adds to those on that port (its own prefix wins). The',
    'scheme of `from` takes no part. Then the longest segment-aware prefix (`/admin` serves `/admin` and `/admin/x`, never',
    '`/administrator`), and only when no prefix route serves the path, the `regex` routes in file order. A method the',
    'chosen route does not accept gets 405; it never falls through to another route.',
    '',
    '`validate` and reload refuse two routes with one host and prefix, and a regex route no request can reach, naming',
    'the route that takes its requests: one behind a `/` route of its host (for a route on `host:8443`, also the',
    'port-less host\'s `/` route), one whose every match lies under a prefix route (`^/admin/[0-9]+$` beside `/admin`),',
    'one an earlier regex route matches first (`^/api` before `^/api/v2/`, or the same regex), one no normalized path',
    'matches (`^/a//b`, `^/%73ecret`). What a regex matches is read from its leading literal characters, so a regex',
    'shadowed only through what follows them (`^/admin(/.*)?$` beside `/admin`) is not caught: `drawbridge explain`',
    'shows the route a given request gets. A path in `from` (and in a `path` rule) is written normalized, with letters,',
    'digits, `-`, `.`, `_`, `~` and `/` only.',
  ].join('\n'),
};
const RULE_ANCHOR = '#policy-rules';

/** Sections of prose only (no key table), printed right after the section they follow. */
const PROSE: readonly { after: string; title: string; body: string }[] = [
  {
    after: 'routes[]',
    title: 'Paths to the upstream',
    body: [
      'The route a request matched (see above) is the one that forwards it. The upstream receives `to`\'s path followed by',
      'the normalized request path, the one the policy decided on, and the query as the client sent it: with',
      '`from: https://app.example.com/static` and `to: http://10.0.0.5/assets`, `GET /static/app.css?v=2` is sent as',
      '`/assets/static/app.css?v=2`. Three route fields change the path (one at most per route), after the policy decided:',
      '',
      '| field | `GET /static/app.css` on `from: …/static`, `to: http://10.0.0.5/assets` becomes |',
      '|---|---|',
      '| (none) | `/assets/static/app.css` |',
      '| `stripPrefix: true` | `/assets/app.css` (and `/static` itself `/assets`) |',
      '| `rewrite: { prefix: /v2 }` | `/assets/v2/app.css` |',
      '| `rewrite: { regex: "^/static/(.*)\\.css$", replace: "/css/$1.css" }` | `/assets/css/app.css` (a path the regex does not match is sent unchanged) |',
      '',
      'A worked example: an old wiki moved under `/index.php`, its assets to a CDN origin under `/assets`, its API to `/v2`:',
      '',
      '```yaml',
      'routes:',
      '  - name: docs-assets',
      '    from: https://docs.example.com/static     # /static/app.css → http://10.0.0.14:8080/assets/app.css',
      '    to: http://10.0.0.14:8080/assets',
      '    stripPrefix: true',
      '    public: true',
      '  - name: docs-api',
      '    from: https://docs.example.com/api        # /api/users → http://10.0.0.14:8080/v2/users',
      '    to: http://10.0.0.14:8080',
      '    rewrite: { prefix: /v2 }',
      '    policy: staff',
      '  - name: docs',
      '    from: https://docs.example.com            # /wiki/Main_Page → http://10.0.0.14:8080/index.php/Main_Page',
      '    to: http://10.0.0.14:8080',
      '    rewrite: { regex: "^/wiki/(.*)$", replace: "/index.php/$1" }',
      '    policy: staff',
      '```',
      '',
      '`drawbridge explain FILE --url URL` prints the route a request gets and, on its `upstream:` line, the URL it is sent to.',
      '',
      'A rewrite works on the normalized path only: `..`, `.`, `//`, encoded dots and unreserved escapes are resolved, and',
      'encoded slashes, backslashes and control characters refused, before the route is matched and the policy decides, so',
      'no spelling of a request reaches a rewrite with a path the policy did not see. A prefix rewrite gives a canonical',
      'path by construction. A regex capture can still hold a piece of a segment (the `..` of the canonical `/files/..x`),',
      'so the result of a regex rewrite must itself be a canonical path (it starts with `/`, and normalizing it changes',
      'nothing: no `.` or `..` segment, `//`, `?`, `#`, `\\`, `%2F` or control character); otherwise the request is refused',
      'with 400, the client is told only that the path cannot be forwarded, and a `rewrite-refused` log line gives the',
      'route, the path and the result. The upstream path is therefore always `to`\'s path followed by a canonical path.',
      '`validate` refuses `stripPrefix` on a route without a path prefix or with a `regex`, `rewrite.prefix` on a `regex`',
      'route, `stripPrefix` with `rewrite`, a `rewrite.prefix` that is not a normalized path, a regex that does not',
      'compile, and a replacement naming a group the regex lacks or holding `?`, `#`, `\\` or control characters.',
    ].join('\n'),
  },
  {
    after: 'routes[]',
    title: 'Identity for legacy applications',
    body: [
      'Applications that only understand `REMOTE_USER`-style headers or HTTP Basic authentication get the identity in',
      'their own terms. `setRequestHeaders` values may hold `{user}`, `{email}` (verified only), `{groups}`, `{name}` and',
      '`{claim:NAME}`; `upstreamAuth.basic` sends `Authorization: Basic` for the user with a password from a file:',
      '',
      '```yaml',
      '  - name: timesheets',
      '    from: https://timesheets.example.com',
      '    to: http://10.0.0.15:8080',
      '    setRequestHeaders:',
      '      Remote-User: "{user}"',
      '      X-Remote-Groups: "{groups}"',
      '      X-Department: "{claim:department}"',
      '    upstreamAuth:',
      '      basic: { user: "{user}", passwordFile: /etc/drawbridge/timesheets-password }',
      '    policy: staff',
      '```',
      '',
      '- Placeholders are parsed once, when the configuration is loaded; an unknown one (`{usr}`) is a `validate` error.',
      '  `{{` writes a literal `{`.',
      '- Values are encoded like the identity headers: `%`, control characters (CR, LF, NUL), non-ASCII and edge spaces',
      '  percent-encoded (UTF-8), `,` inside one group or claim array item too. An expanded value over 8 KiB is not sent.',
      '- A header whose placeholders do not all have a value (an anonymous request on a `public` route, a claim the user',
      '  lacks, an unverified email, an empty value) is **not sent**, rather than sent empty; the client\'s own copy is',
      '  always removed. A header name used with a placeholder on any route is stripped from every client request, in',
      '  every case and `_`/`-` spelling, like the identity headers.',
      '- `upstreamAuth.basic`: the client\'s `Authorization` never reaches the upstream on that route (replaced, or removed',
      '  when there is no user). The user is sent as UTF-8 inside the base64; a user name containing `:` or a control',
      '  character sends no credentials (RFC 7617: the first `:` ends the user name, so `admin:x` would sign in as',
      '  `admin`); a `:` written in the configured `user` is a `validate` error. The password file is read at start and at',
      '  every reload (SIGHUP): one trailing newline is dropped, and a file that cannot be read fails the start or the reload.',
      '  `validate` does not read it.',
      '- Placeholders cannot be used in `Host`, `Authorization` (use `upstreamAuth`), `Cookie` and the framing and',
      '  hop-by-hop headers.',
    ].join('\n'),
  },
];

/** One table to print: the keys of an object at `path` (e.g. `idp.claims`, `routes[].upstreamTls`). */
interface Section {
  path: string;
  title: string;
  intro?: string;
  schema: JsonSchema;
}

/** Renders docs/configuration.md. Pure and deterministic: the docs test compares it with the file. */
export function renderReference(): string {
  const root = configJsonSchema() as JsonSchema;
  const sections: Section[] = [];
  // Depth first: a section is followed by the sections of the objects inside it.
  const collect = (section: Section): void => {
    sections.push(section);
    for (const [key, prop] of Object.entries(section.schema.properties ?? {})) {
      for (const child of nestedObjects(prop)) {
        const path = `${section.path === '' ? '' : `${section.path}.`}${key}${child.suffix}`;
        collect({ path, title: path, ...(child.intro ? { intro: child.intro } : {}), schema: child.schema });
      }
    }
  };
  collect({ path: '', title: 'Top level', schema: root });
  for (const section of sections) if (INTROS[section.path]) section.intro = INTROS[section.path];

  const out: string[] = [];
  out.push('# Configuration reference');
  out.push('');
  out.push('<!-- Generated from the zod schema (proxy/src/schema/config.ts) by');
  out.push('     `node --import tsx proxy/src/config/reference.ts > docs/configuration.md`. Do not edit by hand:');
  out.push('     proxy/test/docs.test.ts fails when this file and the schema disagree. -->');
  out.push('');
  out.push('Drawbridge reads one YAML file (`drawbridge serve --config FILE`, default `config/drawbridge.yaml`, or');
  out.push('`$DRAWBRIDGE_CONFIG`). `drawbridge validate FILE` checks it and prints every problem as `FILE:LINE:COL: message`.');
  out.push('');
  out.push('- `${NAME}` anywhere in a value is replaced by the environment variable `NAME`; a missing variable is an error');
  out.push('  (`validate` only warns, so a file can be checked away from its environment).');
  out.push('- Unknown keys are errors. Durations are strings such as `90s`, `15m`, `12h`, `1d` (units `ms`, `s`, `m`, `h`, `d`).');
  out.push('- `drawbridge schema` prints the JSON Schema this page is generated from; `config/drawbridge.schema.json` holds it,');
  out.push('  and a first line `# yaml-language-server: $schema=./drawbridge.schema.json` gives editors completion and checks.');
  out.push('- Reload (SIGHUP, or the file changing) applies `routes`, `policies`, `trustedProxies` and `log`; changes to `listen`,');
  out.push('  `publicUrl`, `tls`, `admin`, `idp`, `session`, `assertion` and `limits` are logged and take effect at the next restart.');
  out.push('');
  out.push('Sections:');
  out.push('');
  for (const s of sections) {
    out.push(`- [${s.title}](#${anchor(s.title)})`);
    for (const p of PROSE) if (p.after === s.path) out.push(`- [${p.title}](#${anchor(p.title)})`);
  }
  out.push(`- [Policy rules](${RULE_ANCHOR})`);
  out.push('');
  for (const s of sections) {
    out.push(`## ${s.title}`);
    out.push('');
    if (s.intro) {
      out.push(s.intro);
      out.push('');
    }
    out.push('| key | type | required | default | description |');
    out.push('|---|---|---|---|---|');
    out.push(...rows(s.schema, s.path));
    out.push('');
    for (const p of PROSE) {
      if (p.after !== s.path) continue;
      out.push(`## ${p.title}`, '', p.body, '');
    }
  }
  out.push(...renderRules(root));
  return `${out.join('\n').trimEnd()}\n`;
}

/** The policy rules: one entry per key of the rule object ($defs), with its example. */
function renderRules(root: JsonSchema): string[] {
  const rule = Object.values(root.$defs ?? {}).find((d) => d.properties && 'and' in d.properties);
  const out = ['## Policy rules', ''];
  out.push('`allow` and `deny` (in `policies.<name>` and `routes[].policy`) are lists of rules; each rule is an object with');
  out.push('exactly one of these keys. Access is granted when no `deny` rule matches and at least one `allow` rule does.');
  out.push('[policy.md](policy.md) explains each rule with a longer example.');
  out.push('');
  out.push('| rule | value | true when |');
  out.push('|---|---|---|');
  const examples: string[] = [];
  const objects: [string, JsonSchema][] = [];
  for (const [key, prop] of Object.entries(rule?.properties ?? {})) {
    const [text = '', example] = (prop.description ?? '').split('\nExample: ');
    out.push(`| \`${key}\` | ${cell(typeOf(prop, `${key} rule`))} | ${cell(text)} |`);
    if (example) examples.push(`        - ${example}`);
    if (prop.properties) objects.push([key, prop]);
  }
  out.push('');
  for (const [key, prop] of objects) {
    out.push(`### ${key} rule`);
    out.push('');
    out.push('| key | type | required | default | description |');
    out.push('|---|---|---|---|---|');
    out.push(...rows(prop, `${key} rule`));
    out.push('');
  }
  out.push('Every rule once, as YAML:');
  out.push('');
  out.push('```yaml');
  out.push('policy:');
  out.push('  allow:');
  out.push('    - or:');
  out.push('        # one rule per list item');
  out.push(...examples);
  out.push('```');
  out.push('');
  return out;
}

/** The table rows of an object's keys; `path` prefixes the links to nested objects. */
function rows(schema: JsonSchema, path: string): string[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([key, prop]) => {
    const desc = [prop.description ?? '', constraints(prop)].filter(Boolean).join(' ');
    const type = typeOf(prop, `${path === '' ? '' : `${path}.`}${key}`);
    return `| \`${key}\` | ${cell(type)} | ${required.has(key) ? 'yes' : ''} | ${prop.default === undefined ? '' : cell(code(flow(prop.default)))} | ${cell(desc)} |`;
  });
}

/** The objects nested under a property that get a section of their own, with the suffix of their path. */
function nestedObjects(prop: JsonSchema): { suffix: string; schema: JsonSchema; intro?: string }[] {
  if (prop.properties) return [{ suffix: '', schema: prop }];
  if (prop.type === 'array' && prop.items?.properties) return [{ suffix: '[]', schema: prop.items }];
  const values = prop.additionalProperties;
  if (typeof values === 'object' && values.properties) return [{ suffix: '.<name>', schema: values }];
  const variants = prop.oneOf ?? prop.anyOf ?? [];
  const objects = variants.filter((v) => v.properties);
  if (objects.length === 1) return [{ suffix: '', schema: objects[0]! }];
  return objects.map((v) => ({ suffix: ` (${variantLabel(v)})`, schema: v, intro: `When \`${variantLabel(v)}\`.` }));
}

/** `type: redis` for the variant of a tagged union whose `type` is the const "redis". */
function variantLabel(v: JsonSchema): string {
  const tag = Object.entries(v.properties ?? {}).find(([, p]) => p.const !== undefined);
  // Untagged: named by its keys (`rewrite (prefix)`, `rewrite (regex, replace)`).
  return tag ? `${tag[0]}: ${String(tag[1].const)}` : Object.keys(v.properties ?? {}).join(', ') || 'object';
}

function typeOf(s: JsonSchema, path: string): string {
  if (s.$ref) return `[rule](${RULE_ANCHOR})`;
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((e) => `\`${String(e)}\``).join(', ');
  const variants = s.oneOf ?? s.anyOf;
  if (variants) {
    const tagged = variants.filter((v) => v.properties).length > 1;
    return variants.map((v) => typeOf(v, tagged && v.properties ? `${path} (${variantLabel(v)})` : path)).join(' or ');
  }
  if (Array.isArray(s.type)) return s.type.join(', ');
  switch (s.type) {
    case 'string':
      if (s.pattern === DURATION_PATTERN) return 'duration';
      if (s.format === 'uri') return 'URL';
      if (s.format === 'date-time') return 'ISO-8601 instant';
      return 'string';
    case 'integer':
      return 'integer';
    case 'array':
      return `list of ${s.items ? typeOf(s.items, `${path}[]`) : 'values'}`;
    case 'object':
      if (s.properties) return `object ([${path}](#${anchor(path)}))`;
      if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        return `map of ${s.propertyNames?.pattern ? 'name' : 'string'} → ${typeOf(s.additionalProperties, `${path}.<name>`)}`;
      }
      return 'object';
    default:
      return s.type ?? 'any';
  }
}

function constraints(s: JsonSchema): string {
  const out: string[] = [];
  if (s.minItems !== undefined && s.minItems > 0) out.push(`At least ${s.minItems} item${s.minItems === 1 ? '' : 's'}.`);
  if (s.minimum !== undefined && s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) out.push(`From ${s.minimum} to ${s.maximum}.`);
  if (s.exclusiveMinimum === 0) out.push('Positive.');
  if (s.type === 'string' && s.pattern && s.pattern !== DURATION_PATTERN && s.format === undefined) out.push(`Pattern ${code(s.pattern)}.`);
  const items = s.items;
  if (items?.type === 'string' && items.pattern && items.format === undefined) out.push(`Items match ${code(items.pattern)}.`);
  return out.join(' ');
}

/** A value as a YAML flow scalar/collection (`[openid, email]`, `{ type: memory }`). */
function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, v]) => `${k}: ${flow(v)}`).join(', ')} }`;
  }
  if (typeof value === 'string') return /^[A-Za-z0-9_./-]+$/.test(value) && !/^(true|false|null|\d.*)$/.test(value) ? value : JSON.stringify(value);
  return String(value);
}

/** Inline code, with a longer fence when the text holds a backtick. */
function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** A table cell: no raw pipes or line breaks. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/** GitHub's heading anchor: lower-case, punctuation dropped, spaces as dashes. */
function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(renderReference());
}
