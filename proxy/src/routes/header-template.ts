// routes/header-template.ts — identity placeholders in configured header values (`setRequestHeaders`,
// `upstreamAuth.basic.user`): `{user}`, `{email}`, `{groups}`, `{name}`, `{claim:NAME}`, `{{` for a literal `{`.
// Parsed once per route when the configuration is compiled; forward/identity-headers.ts expands them per request.

/** One placeholder: an identity field, or a claim by name. */
export type Placeholder = { readonly field: 'user' | 'email' | 'groups' | 'name' } | { readonly claim: string };

/** A parsed value: literal text and placeholders, in order. `dynamic` is false when it has no placeholder. */
export interface HeaderTemplate {
  readonly parts: readonly (string | Placeholder)[];
  readonly dynamic: boolean;
}

const FIELDS = new Set(['user', 'email', 'groups', 'name']);
const CLAIM_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Parses a configured value; returns the template, or an error naming what is wrong. */
export function parseHeaderTemplate(value: string): HeaderTemplate | { error: string } {
  const parts: (string | Placeholder)[] = [];
  let literal = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c !== '{') {
      literal += c;
      continue;
    }
    if (value[i + 1] === '{') {
      literal += '{';
      i++;
      continue;
    }
    const end = value.indexOf('}', i + 1);
    if (end < 0) return { error: `unclosed "{" in ${JSON.stringify(value)} (write {{ for a literal "{")` };
    const inner = value.slice(i + 1, end);
    let placeholder: Placeholder;
    if (FIELDS.has(inner)) placeholder = { field: inner as 'user' | 'email' | 'groups' | 'name' };
    else if (inner.startsWith('claim:') && CLAIM_NAME.test(inner.slice(6))) placeholder = { claim: inner.slice(6) };
    else return { error: `unknown placeholder {${inner}}: expected {user}, {email}, {groups}, {name} or {claim:NAME} (write {{ for a literal "{")` };
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push(Object.freeze(placeholder));
    i = end;
  }
  if (literal !== '') parts.push(literal);
  return Object.freeze({ parts: Object.freeze(parts), dynamic: parts.some((p) => typeof p !== 'string') });
}

/** Header names a placeholder may not be used in: framing, routing and credentials Drawbridge sets or reads itself. */
export const NO_PLACEHOLDER_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'cookie',
  'authorization',
  'proxy-authorization',
]);
