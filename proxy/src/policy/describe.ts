// policy/describe.ts — how policy rules read back as text: a rule as short flow YAML for traces, explain and the
// 403 page.
import type { RuleConfig } from './schema.js';

/** A rule as short flow YAML for traces and explain: `and: [{ groups: [wiki-admins] }, { mfa: true }]`. */
export function describeRule(raw: RuleConfig): string {
  return entries(raw)
    .map(([key, value]) => `${key}: ${flow(value)}`)
    .join(', ');
}

/** The own entries of an object that are not undefined (how a rule's YAML reads). */
export function entries(value: object): Array<[string, unknown]> {
  return Object.entries(value).filter(([, v]) => v !== undefined);
}

function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  if (value !== null && typeof value === 'object') return `{ ${entries(value).map(([k, v]) => `${scalar(k)}: ${flow(v)}`).join(', ')} }`;
  return scalar(value);
}

const PLAIN = /^[A-Za-z0-9_./@+-]+$/;
const YAML_NON_STRING = /^([-+]?(\.\d+|\d+(\.\d*)?)([eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|true|false|null|yes|no|on|off|~)$/i;

function scalar(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  return PLAIN.test(value) && !YAML_NON_STRING.test(value) ? value : JSON.stringify(value);
}
