// policy/evaluate.ts — the policy engine: compile.ts compiles policies once and checks references and cycles for
// `validate`, decide.ts decides each request (allow, deny, sign-in, step-up), describe.ts writes rules back as text.
export { checkPolicies, compilePolicies, signInNeed, type CompiledPolicy, type CompiledRule, type CompileOptions, type PolicyIssue } from './compile.js';
export { decide, type Decision, type Outcome, type TraceEntry } from './decide.js';
export { describeRule } from './describe.js';
