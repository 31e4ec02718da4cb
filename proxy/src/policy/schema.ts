// policy/schema.ts — the zod schemas of a rule and of a policy (`allow` / `deny`), built from the
// rule definitions, with each rule's description carried into the generated JSON Schema.
import { z } from 'zod';
import type { RuleDefinition, RuleValue } from './rule.js';
import { SCHEMA_KIT } from './schema-kit.js';
import { RULES } from './registry.js';
import { closest } from './suggest.js';
import { authenticatedRule } from './rules/authenticated.js';
import { userRule } from './rules/user.js';
import { emailRule } from './rules/email.js';
import { domainRule } from './rules/domain.js';
import { groupsRule } from './rules/groups.js';
import { claimRule } from './rules/claim.js';
import { methodRule } from './rules/method.js';
import { pathRule } from './rules/path.js';
import { ipRule } from './rules/ip.js';
import { deviceRule } from './rules/device.js';
import { timeRule } from './rules/time.js';
import { beforeRule } from './rules/before.js';
import { afterRule } from './rules/after.js';
import { mfaRule } from './rules/mfa.js';
import { acrRule } from './rules/acr.js';
import { authAgeRule } from './rules/auth-age.js';
import { policyRule } from './rules/policy.js';
import { contextRule } from './rules/context.js';
import { riskRule } from './rules/risk.js';
import { andRule, notRule, orRule } from './combinators.js';

/** One rule as written in YAML: an object with exactly one of these keys. */
export interface RuleConfig {
  authenticated?: RuleValue<typeof authenticatedRule>;
  user?: RuleValue<typeof userRule>;
  email?: RuleValue<typeof emailRule>;
  domain?: RuleValue<typeof domainRule>;
  groups?: RuleValue<typeof groupsRule>;
  claim?: RuleValue<typeof claimRule>;
  method?: RuleValue<typeof methodRule>;
  path?: RuleValue<typeof pathRule>;
  ip?: RuleValue<typeof ipRule>;
  device?: RuleValue<typeof deviceRule>;
  time?: RuleValue<typeof timeRule>;
  before?: RuleValue<typeof beforeRule>;
  after?: RuleValue<typeof afterRule>;
  mfa?: RuleValue<typeof mfaRule>;
  acr?: RuleValue<typeof acrRule>;
  authAge?: RuleValue<typeof authAgeRule>;
  context?: RuleValue<typeof contextRule>;
  risk?: RuleValue<typeof riskRule>;
  policy?: RuleValue<typeof policyRule>;
  and?: RuleConfig[];
  or?: RuleConfig[];
  not?: RuleConfig;
}

function doc(def: RuleDefinition): string {
  return `${def.description}\nExample: ${def.example}`;
}

function leaf<S extends z.ZodType>(def: RuleDefinition<S>) {
  return def.schema(SCHEMA_KIT).optional().describe(doc(def));
}

const RULE_NAMES = RULES.map((r) => r.name);

function unknownRuleMessage(keys: readonly string[]): string {
  return keys
    .map((key) => {
      const near = closest(key, RULE_NAMES);
      const hint = near ? `did you mean "${near}"?` : `known rules: ${RULE_NAMES.join(', ')}`;
      return `unknown rule "${key}" (${hint})`;
    })
    .join('; ');
}

/** The properties of a rule object; the combinators nest ruleSchema through getters (zod 4 recursion). */
export const ruleShape = {
  authenticated: leaf(authenticatedRule),
  user: leaf(userRule),
  email: leaf(emailRule),
  domain: leaf(domainRule),
  groups: leaf(groupsRule),
  claim: leaf(claimRule),
  method: leaf(methodRule),
  path: leaf(pathRule),
  ip: leaf(ipRule),
  device: leaf(deviceRule),
  time: leaf(timeRule),
  before: leaf(beforeRule),
  after: leaf(afterRule),
  mfa: leaf(mfaRule),
  acr: leaf(acrRule),
  authAge: leaf(authAgeRule),
  context: leaf(contextRule),
  risk: leaf(riskRule),
  policy: leaf(policyRule),
  get and() {
    return z.array(ruleSchema).min(1).optional().describe(doc(andRule));
  },
  get or() {
    return z.array(ruleSchema).min(1).optional().describe(doc(orRule));
  },
  get not() {
    return ruleSchema.optional().describe(doc(notRule));
  },
};

/**
 * A rule: an object with exactly one key among the registry's rule names. Unknown keys are
 * reported by name (with a suggestion for a near miss).
 */
export const ruleSchema: z.ZodType<RuleConfig> = z
  .strictObject(ruleShape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? unknownRuleMessage(issue.keys)
        : issue.code === 'invalid_type'
          ? 'expected a rule: an object with one key, like { groups: [engineering] }'
          : undefined,
  })
  .refine((rule) => Object.values(rule).filter((v) => v !== undefined).length === 1, {
    message: 'a rule has exactly one key (use and: [...] to combine)',
    // Not an object, or an unknown key: already reported; counting known keys would only add noise.
    when: (payload) => !payload.issues.some((i) => (i.path?.length ?? 0) === 0),
  })
  .meta({ minProperties: 1, maxProperties: 1 });

/** A policy: access when no `deny` rule matches and at least one `allow` rule does. */
export const policySchema = z.strictObject({
  allow: z.array(ruleSchema).optional().describe('Rules that grant access; any one is enough. No match: access is denied.'),
  deny: z.array(ruleSchema).optional().describe('Rules that refuse access; any one matching overrides every allow rule.'),
});

export type PolicyConfig = z.infer<typeof policySchema>;
