// config/reference.ts — the configuration reference in Markdown (docs/configuration.md), generated from the
// JSON Schema of the zod schema: every key with its type, default and description. Run directly, it prints it:
// `node --import tsx proxy/src/config/reference.ts > docs/configuration.md`.
import { pathToFileURL } from 'node:url';
import { configJsonSchema } from './schema.js';

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
  out.push('<!-- Generated from the zod schema (proxy/src/config/schema.ts) by');
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
  for (const s of sections) out.push(`- [${s.title}](#${anchor(s.title)})`);
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
  return tag ? `${tag[0]}: ${String(tag[1].const)}` : 'object';
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
