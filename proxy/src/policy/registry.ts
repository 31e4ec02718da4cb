// policy/registry.ts — every policy rule, in one explicit list (no registration by import side
// effect). The schema, the JSON Schema, `explain` and the rules reference in the docs all read it.
import type { RuleDefinition } from './rule.js';
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

/** Every rule, in the order the docs and the JSON Schema list them. */
export const RULES: readonly RuleDefinition[] = [
  authenticatedRule,
  userRule,
  emailRule,
  domainRule,
  groupsRule,
  claimRule,
  methodRule,
  pathRule,
  ipRule,
  deviceRule,
  timeRule,
  beforeRule,
  afterRule,
  mfaRule,
  acrRule,
  authAgeRule,
  contextRule,
  riskRule,
  policyRule,
  andRule,
  orRule,
  notRule,
];

/** The combinators: their values are rules, validated by ruleSchema itself. */
export const COMBINATOR_NAMES: readonly string[] = [andRule.name, orRule.name, notRule.name];
