// config/issues.ts — a zod issue → a message an operator can act on: it names the key, what is expected and what
// the file has, suggests the key meant by an unknown one, and points at a key that is mis-indented. Never zod's
// generic text ("Invalid input", "expected array, received string").
import { z } from 'zod';
import { closest } from '../policy/suggest.js';
import type { Locator, ConfigIssue } from './locate.js';

export type Issue = z.core.$ZodIssue;
type Path = (string | number)[];
type Schema = z.core.$ZodType;

const zodDefault = z.locales.en().localeError;

/** zod's own English text for the issue: the message a schema did not choose itself. */
function isDefaultMessage(issue: Issue): boolean {
  const d = zodDefault(issue as never);
  return issue.message === (typeof d === 'string' ? d : d?.message);
}

/**
 * The located, readable issues (one per unknown key, at its own line) of one zod issue. `schema` is the root the path
 * walks from; the issue must carry its `input` (parse with `reportInput`).
 */
export function describeIssue(locator: Locator, schema: Schema, issue: Issue): ConfigIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const where = path.length > 0 ? `${dotted(path)}: ` : '';
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'unrecognized_keys') {
    // A schema may say more than zod's default (policy rules suggest the closest rule name).
    if (!isDefaultMessage(issue)) return [locator.issue([...path, issue.keys[0]!], `${where}${issue.message}`, { key: true })];
    return issue.keys.map((key) => locator.issue([...path, key], `${where}${unknownKey(schema, path, key)}`, { key: true }));
  }
  if (issue.code === 'invalid_type' && input === undefined && path.length > 0) {
    const parent = path.slice(0, -1);
    return [locator.issue(parent, `${dotted(parent) || 'top level'}: missing required key "${String(path[path.length - 1])}"`, { key: true })];
  }
  return [locator.issue(path, `${where}${isDefaultMessage(issue) ? readable(schema, path, issue, input) : issue.message.replace(/^Invalid input: /, '')}`)];
}

function readable(schema: Schema, path: Path, issue: Issue, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      const key = path[path.length - 1];
      let hint = '';
      if (issue.expected === 'array' && isScalar(input) && typeof key === 'string') hint = ` — write ${key}: [${String(input)}]`;
      else if (issue.expected === 'object' && input === null) hint = ' — its keys go on the lines below it, indented under it';
      return `expected ${typeName(issue.expected)}, got ${valueName(input)}${hint}`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `expected ${JSON.stringify(issue.values[0])}, got ${valueName(input)}` : `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; got ${valueName(input)}`;
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator !== undefined) {
        const options = (issue as { options?: unknown[] }).options ?? [];
        const got = input !== null && typeof input === 'object' ? (input as Record<string, unknown>)[issue.discriminator] : undefined;
        return `expected one of ${options.map((v) => JSON.stringify(v)).join(', ')}; got ${valueName(got)}`;
      }
      const alternatives = [...new Set(schemasAt(schema, path).map(schemaName))];
      return `expected ${alternatives.join(' or ')}, got ${valueName(input)}`;
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : issue.maximum);
      const exact = issue.inclusive !== false;
      if (issue.origin === 'string') return small && bound === 1 ? 'must not be empty' : `must be ${small ? 'at least' : 'at most'} ${bound} characters, got ${valueName(input)}`;
      if (issue.origin === 'array' || issue.origin === 'set') return small && bound === 1 ? 'needs at least one item' : `needs ${small ? 'at least' : 'at most'} ${bound} items`;
      return `must be ${small ? (exact ? 'at least' : 'more than') : exact ? 'at most' : 'less than'} ${bound}, got ${valueName(input)}`;
    }
    case 'invalid_format':
      return issue.format === 'regex' && 'pattern' in issue ? `expected text matching ${String(issue.pattern)}, got ${valueName(input)}` : `expected ${article(issue.format)} ${issue.format}, got ${valueName(input)}`;
    case 'invalid_key': {
      const inner = issue.issues[0];
      const why = inner && !isDefaultMessage(inner) ? inner.message : 'a name this map does not accept';
      return `invalid key ${JSON.stringify(path[path.length - 1])}: ${why}`;
    }
    case 'invalid_element':
      return `invalid item ${JSON.stringify(issue.key)}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}, got ${valueName(input)}`;
    default:
      return `not an accepted value: got ${valueName(input)}`;
  }
}

/** `unknown key "x"`, with the key meant (a near miss here) or where the key belongs (a mis-indented line). */
function unknownKey(schema: Schema, path: Path, key: string): string {
  const here = knownKeys(schema, path);
  const near = closest(key, here);
  const elsewhere = near === undefined ? belongsUnder(schema, path, key) : undefined;
  if (elsewhere !== undefined) return `unknown key "${key}" here: it belongs ${elsewhere.length === 0 ? 'at the top level' : `under ${dotted(elsewhere)}`} — check its indentation`;
  return `unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}`;
}

/**
 * Where a key found in the wrong mapping is known: the nearest enclosing mapping (indented too far), else a mapping
 * one level inside this one (indented too little; a list's items are written `[…]`).
 */
function belongsUnder(schema: Schema, path: Path, key: string): (string | number)[] | undefined {
  for (let i = path.length - 1; i >= 0; i--) {
    const up = path.slice(0, i);
    if (typeof path[i] === 'number') continue;
    if (knownKeys(schema, up).includes(key)) return up;
  }
  for (const child of knownKeys(schema, path)) {
    const inner = [...path, child];
    if (knownKeys(schema, inner).includes(key)) return inner;
    if (knownKeys(schema, [...inner, 0]).includes(key)) return [...inner, '[…]'];
  }
  return undefined;
}

/** The keys of the mappings the schema allows at `path`. */
function knownKeys(schema: Schema, path: Path): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(schema, path)) if (s._zod.def.type === 'object') for (const k of Object.keys((s as z.ZodObject)._zod.def.shape)) keys.add(k);
  return [...keys];
}

/** The schemas (alternatives of unions, wrappers removed) a value at `path` is checked against. */
function schemasAt(schema: Schema, path: Path): Schema[] {
  let current = unwrap(schema);
  for (const seg of path) {
    current = current.flatMap((s) => {
      const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
      if (def.type === 'object' && typeof seg === 'string') {
        const shape = (def as unknown as { shape: Record<string, Schema> }).shape;
        return Object.hasOwn(shape, seg) ? unwrap(shape[seg]!) : [];
      }
      if (def.type === 'array' && typeof seg === 'number') return unwrap(def.element as Schema);
      if (def.type === 'record' && typeof seg === 'string') return unwrap(def.valueType as Schema);
      return [];
    });
  }
  return current;
}

function unwrap(s: Schema): Schema[] {
  const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return unwrap(def.innerType as Schema);
    case 'pipe':
      return unwrap(def.in as Schema);
    case 'lazy':
      return unwrap((def.getter as () => Schema)());
    case 'union':
      return (def.options as Schema[]).flatMap(unwrap);
    default:
      return [s];
  }
}

/** What a schema accepts, in words ("a list", "true or false", "a mapping"). */
function schemaName(s: Schema): string {
  const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def.type === 'literal') return (def.values as unknown[]).map((v) => JSON.stringify(v)).join(' or ');
  if (def.type === 'enum') return `one of ${Object.values(def.entries as Record<string, unknown>).map((v) => JSON.stringify(v)).join(', ')}`;
  return typeName(def.type);
}

function typeName(type: string): string {
  switch (type) {
    case 'string':
      return 'text';
    case 'number':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
    case 'map':
      return 'a mapping (key: value)';
    default:
      return `${article(type)} ${type}`;
  }
}

/** The value found, in words: `a string "GET"`, `a number 3`, `a list`, `nothing`. */
function valueName(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return `a string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  if (typeof v === 'number') return `a number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return `a date ${v.toISOString()}`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

export function dotted(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : p === '[…]' ? p : i === 0 ? p : `.${p}`)).join('');
}
