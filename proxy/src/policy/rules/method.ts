// policy/rules/method.ts — `method: [GET, HEAD]`: the request method is listed.
import { defineRule, fail, frozen, pass } from '../rule.js';

/**
 * Passes when the request method is one of these (written in any case).
 * ```yaml
 * allow:
 *   - and: [ { groups: [support] }, { method: [GET, HEAD] } ]
 * ```
 */
export const methodRule = defineRule({
  name: 'method',
  description: 'The request method is one of these.',
  example: 'method: [GET, HEAD]',
  schema: ({ z }) => z.array(z.string().regex(/^[A-Za-z]+$/, 'expected an HTTP method like GET')).min(1),
  compile(methods) {
    const ok = new Map(methods.map((m) => [m.toUpperCase(), frozen(pass('method-ok', m.toUpperCase()))]));
    return function method(input) {
      return ok.get(input.method) ?? fail('method-not-allowed', input.method);
    };
  },
});
