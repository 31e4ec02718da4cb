// config/load.ts — YAML text → validated Config, or every problem at once as FILE:LINE:COL: message.
// Order: YAML syntax → ${ENV} interpolation → zod schema → semantic checks (only on a schema-valid file).
import { readFileSync } from 'node:fs';
import { parseDocument, LineCounter } from 'yaml';
import type { z } from 'zod';
import { interpolateEnv } from './interpolate.js';
import { Locator, type ConfigIssue } from './locate.js';
import { describeIssue, type Issue } from './issues.js';
import { configSchema, type Config } from '../schema/config.js';
import { checkSemantics } from './semantic.js';

export type LoadResult = { ok: true; config: Config; warnings: ConfigIssue[] } | { ok: false; errors: ConfigIssue[] };

export interface LoadOptions {
  /**
   * 'error' (serve, reload): a missing ${NAME} is an error. 'warn' (validate, explain, test): it is
   * replaced by a placeholder and reported as a warning, so a file can be checked away from its environment.
   */
  missingEnv?: 'error' | 'warn';
  /**
   * Checks that read the files a valid configuration names (tls/check.ts `checkTlsFiles`): run after the
   * semantic checks; an issue with `warning` is reported without refusing the file. Injected, so that this module
   * stays free of I/O.
   */
  fileChecks?: (config: Config) => readonly { path: (string | number)[]; message: string; warning?: boolean }[];
}

// Stands in for a missing ${NAME}: long enough to pass the secret-length check, so the missing variable
// is reported once, at its scalar, and not again as an empty or short value.
const ENV_PLACEHOLDER = 'placeholder-for-a-missing-environment-variable';

/** Validates configuration text. `file` only labels the errors; `env` feeds ${NAME}. Pure: no I/O. */
export function loadConfigText(text: string, file: string, env: Readonly<Record<string, string | undefined>> = {}, options: LoadOptions = {}): LoadResult {
  const parsed = parseYaml(text, file, configSchema, env, ENV_PLACEHOLDER, options.missingEnv === 'warn');
  if (!parsed.ok) {
    // Report the semantic problems of the raw data too: one run names every mistake.
    if (parsed.raw !== undefined && parsed.locator) {
      const extra = checkSemantics(parsed.raw as Config, false).map((s) => parsed.locator!.issue(s.path, s.message, { key: s.key }));
      return { ok: false, errors: sortIssues([...parsed.errors, ...extra]) };
    }
    return parsed;
  }
  const errors = checkSemantics(parsed.value).map((s) => parsed.locator.issue(s.path, s.message, { key: s.key }));
  if (errors.length > 0) return { ok: false, errors: sortIssues([...errors, ...parsed.warnings]) };
  const warnings = [...parsed.warnings];
  for (const f of options.fileChecks?.(parsed.value) ?? []) {
    // Pointed at the key (`keyFile:`), which names the file in the message.
    (f.warning ? warnings : errors).push(parsed.locator.issue(f.path, f.message, { key: true }));
  }
  if (errors.length > 0) return { ok: false, errors: sortIssues([...errors, ...warnings]) };
  return { ok: true, config: parsed.value, warnings: sortIssues(warnings) };
}

/**
 * YAML text → a value of `schema`, or every problem as located issues: syntax, ${ENV} references
 * (interpolated in string values), schema violations. Shared by the configuration and policy test files.
 */
export function parseYaml<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  env: Readonly<Record<string, string | undefined>> = {},
  envPlaceholder?: string,
  missingEnvIsWarning = false,
): { ok: true; value: z.output<S>; locator: Locator; warnings: ConfigIssue[] } | { ok: false; errors: ConfigIssue[]; raw?: unknown; locator?: Locator } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const syntax: ConfigIssue[] = doc.errors.map((e) => {
    const { line, col } = lines.linePos(e.pos[0]);
    return { file, line, col, message: `YAML: ${firstLine(e.message)}` };
  });
  if (syntax.length > 0) return { ok: false, errors: syntax };

  const locator = new Locator(file, doc, lines);
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  for (const p of interpolateEnv(doc, env, envPlaceholder)) {
    const { line, col } = lines.linePos(p.node.range?.[0] ?? 0);
    if (missingEnvIsWarning && p.message.endsWith('is not set')) {
      warnings.push({ file, line, col, message: `warning: ${p.message} (checked with a placeholder; serve refuses to start without it)` });
    } else {
      errors.push({ file, line, col, message: p.message });
    }
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, errors: [...errors, { file, line: 1, col: 1, message: 'the file must be a YAML mapping' }] };
  }
  // The input in each issue lets a message say what the file has, not only what was expected.
  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    for (const issue of flattenIssues(result.error.issues)) errors.push(...describeIssue(locator, schema, issue));
  }
  if (errors.length > 0 || !result.success) return { ok: false, errors: sortIssues([...errors, ...warnings]), raw, locator };
  return { ok: true, value: result.data, locator, warnings };
}

/** Reads and validates a configuration file; read errors are reported like any other issue. */
export function loadConfigFile(file: string, env: Readonly<Record<string, string | undefined>> = process.env, options: LoadOptions = {}): LoadResult & { text?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, errors: [{ file, line: 1, col: 1, message: `cannot read the configuration: ${(e as Error).message}` }] };
  }
  return { ...loadConfigText(text, file, env, options), text };
}

/** Unions report every branch's failure; keep the branch that got furthest into the value. */
function flattenIssues(issues: readonly Issue[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((branch) => branch.map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as Issue));
      const deepest = branches.reduce((best, b) => (depth(b) > depth(best) ? b : best));
      if (depth(deepest) > issue.path.length) {
        out.push(...flattenIssues(deepest));
        continue;
      }
    }
    out.push(issue);
  }
  return out;
}

function depth(branch: readonly Issue[]): number {
  return Math.max(0, ...branch.map((i) => i.path.length + (i.code === 'unrecognized_keys' ? 1 : 0)));
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
