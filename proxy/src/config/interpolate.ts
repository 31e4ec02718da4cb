// config/interpolate.ts — replaces ${NAME} in YAML string scalars with environment variables,
// in place on the parsed document so that errors keep the scalar's line and column.
import { visit, type Document, type Scalar } from 'yaml';

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{([^}]*)\}?/g;

export interface InterpolationProblem {
  node: Scalar;
  message: string;
}

/**
 * Substitutes every `${NAME}` in string scalars (values only, never keys); `$${` is a literal `${`.
 * Returns one problem per missing variable or malformed reference; the document is changed in place.
 * With `placeholder`, a missing variable is replaced by it (offline tools validate the rest of the file).
 */
export function interpolateEnv(doc: Document, env: Readonly<Record<string, string | undefined>>, placeholder?: string): InterpolationProblem[] {
  const problems: InterpolationProblem[] = [];
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      node.value = node.value.replace(REFERENCE, (match, name: string | undefined, bad: string | undefined) => {
        if (match === '$${') return '${';
        if (name !== undefined) {
          const value = env[name];
          if (value === undefined) {
            problems.push({ node, message: `environment variable ${name} is not set` });
            return placeholder ?? '';
          }
          return value;
        }
        problems.push({ node, message: `malformed reference "\${${bad ?? ''}" (expected \${NAME} with letters, digits and _)` });
        return '';
      });
    },
  });
  return problems;
}
