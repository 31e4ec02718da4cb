// cli/explain.ts — `drawbridge explain FILE --url URL ...`: the matched route, the decision and the
// reason of every rule that took part, from the same data the log and the 403 page use.
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { REASONS } from '../policy/reasons.js';
import type { Reason, StepUpNeed } from '../policy/rule.js';
import { upstreamTarget } from '../routes/rewrite.js';
import { describeRule } from '../policy/describe.js';
import type { PolicyConfig } from '../policy/schema.js';
import { durationText, grantMayApply } from '../access/access.js';
import { checkClientIp, DEFAULT_CLIENT_IP, parseClaimValue, parseSignals, Simulator, type IdentitySpec } from './simulate.js';
import type { RiskSignal } from '../policy/context.js';
import type { Command } from './io.js';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { deviceOf } from '../tls/client-certificate.js';
import type { DeviceCertificate } from '../policy/input.js';

const USAGE =
  'usage: drawbridge explain FILE --url URL [--method M] [--user U] [--email E] [--email-unverified] [--groups a,b] [--claim k=v]... [--ip IP] [--amr a,b] [--acr X] [--auth-age 5m] [--time ISO] [--session-ip IP] [--signal KIND[*N][@AGO]]... [--device-cert PEM]\n';

export const explain: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      method: { type: 'string' },
      user: { type: 'string' },
      email: { type: 'string' },
      'email-unverified': { type: 'boolean' },
      name: { type: 'string' },
      groups: { type: 'string' },
      claim: { type: 'string', multiple: true },
      ip: { type: 'string' },
      amr: { type: 'string' },
      acr: { type: 'string' },
      'auth-age': { type: 'string' },
      time: { type: 'string' },
      'session-ip': { type: 'string' },
      signal: { type: 'string', multiple: true },
      'device-cert': { type: 'string' },
    },
  });
  const file = positionals[0];
  if (!file || !values.url) {
    io.stderr.write(USAGE);
    return 2;
  }
  const now = values.time !== undefined ? Date.parse(values.time) : Date.now();
  if (Number.isNaN(now)) {
    io.stderr.write(`explain: --time "${values.time}" is not an ISO-8601 instant\n`);
    return 2;
  }
  const badIp = values.ip === undefined ? undefined : checkClientIp(values.ip);
  if (badIp !== undefined) {
    io.stderr.write(`explain: --ip ${badIp}\n`);
    return 2;
  }
  const badSessionIp = values['session-ip'] === undefined ? undefined : checkClientIp(values['session-ip']);
  if (badSessionIp !== undefined) {
    io.stderr.write(`explain: --session-ip ${badSessionIp}\n`);
    return 2;
  }
  const signals: RiskSignal[] = [];
  for (const text of values.signal ?? []) {
    const parsed = parseSignals(text, now);
    if (typeof parsed === 'string') {
      io.stderr.write(`explain: --signal ${parsed}\n`);
      return 2;
    }
    signals.push(...parsed);
  }
  // The device certificate as the `device` rule would see it once verified (explain does not check its chain).
  let device: DeviceCertificate | undefined;
  if (values['device-cert'] !== undefined) {
    try {
      device = deviceOf(new X509Certificate(readFileSync(values['device-cert'])), 'tls');
    } catch (e) {
      io.stderr.write(`explain: --device-cert ${values['device-cert']}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  let claims: Record<string, unknown>;
  try {
    claims = parseClaims(values.claim ?? []);
  } catch (e) {
    io.stderr.write(`explain: ${(e as Error).message}\n`);
    return 2;
  }
  const loaded = loadConfigFile(file, io.env, { missingEnv: 'warn' });
  if (!loaded.ok) {
    for (const e of loaded.errors) io.stderr.write(`${formatIssue(e)}\n`);
    return 2;
  }
  const identity: IdentitySpec | undefined =
    values.user !== undefined || values.email !== undefined
      ? {
          ...(values.user !== undefined ? { user: values.user } : {}),
          ...(values.email !== undefined ? { email: values.email } : {}),
          ...(values.name !== undefined ? { name: values.name } : {}),
          emailVerified: !values['email-unverified'],
          groups: splitList(values.groups),
          amr: splitList(values.amr),
          ...(values.acr !== undefined ? { acr: values.acr } : {}),
          ...(values['auth-age'] !== undefined ? { authAge: values['auth-age'] } : {}),
          claims,
        }
      : undefined;

  const session = { ...(values['session-ip'] !== undefined ? { ip: values['session-ip'] } : {}), signals };
  const result = new Simulator(loaded.config).run({ url: values.url, method: values.method, ip: values.ip, now, identity, session, ...(device ? { device } : {}) });
  const out: string[] = [];
  out.push(`request:  ${(values.method ?? 'GET').toUpperCase()} ${values.url}`);
  out.push(`time:     ${new Date(now).toISOString()}`);
  out.push(`client:   ${values.ip === undefined ? `${DEFAULT_CLIENT_IP} (the default; --ip sets it)` : values.ip === 'unknown' ? 'unknown (ip rules are undecided)' : values.ip}`);
  out.push(`identity: ${describeIdentity(identity)}`);
  if (device) out.push(`device:   ${Object.entries(device.subject).map(([k, v]) => `${k}=${v}`).join(', ') || '(no subject)'} (sha256 ${device.fingerprint256.slice(0, 16)}…), taken as verified`);
  if (identity && (values['session-ip'] !== undefined || signals.length > 0)) {
    out.push(`session:  started from ${values['session-ip'] ?? 'the client address'}; signals: ${signals.length === 0 ? 'none' : (values.signal ?? []).join(', ')}`);
  }
  switch (result.kind) {
    case 'bad-request':
      out.push(`decision: refused with 400 before matching — ${result.reason}`);
      break;
    case 'no-route':
      out.push(`route:    none serves ${result.host}${result.path} (404, upstream never contacted)`);
      break;
    case 'method-not-allowed':
      out.push(`route:    the route for ${result.host}${result.path} does not accept this method (405)`);
      break;
    case 'reserved':
      out.push(`route:    none: ${result.path} is one of Drawbridge's own paths (/.drawbridge/...), answered by Drawbridge itself on every host, never forwarded and no route's policy applies`);
      out.push('decision: reserved (Drawbridge answers it itself)');
      break;
    case 'decided': {
      const { route, decision } = result;
      out.push(`route:    ${route.name} (from ${route.from} → ${route.config.to})`);
      out.push(`path:     ${result.path}`);
      // Where an allowed request goes: `to` and the rewritten path (what the sample app's echo shows it received).
      const upstream = upstreamTarget(route, result.path, result.query);
      out.push(`upstream: ${upstream.ok ? `${route.upstream.origin}${upstream.path}` : `none: refused with 400 (${upstream.reason})`}`);
      if (route.upstreamTls?.insecureSkipVerify === true) {
        out.push(`upstream TLS: NOT VERIFIED (upstreamTls.insecureSkipVerify; acknowledged: "${route.upstreamTls.acknowledge ?? ''}")`);
      }
      const needs = decision.stepUp ? ` (needs ${describeStepUp(decision.stepUp)})` : decision.signInNeed ? ` (asks the IdP at once for ${describeStepUp(decision.signInNeed)})` : '';
      out.push(`decision: ${decision.outcome}${needs}`);
      out.push(`reasons:  ${decision.reasons.map(reasonText).join('; ')}`);
      if (route.requests !== undefined && decision.outcome !== 'allow' && decision.outcome !== 'sign-in') {
        const r = route.requests;
        out.push(
          grantMayApply(route, { sub: '', user: '', groups: [], amr: [], claims: {} }, decision)
            ? `access request: possible from the 403 page (up to ${durationText(r.maxDurationMs / 1000)}, reason ${r.reasonRequired ? 'required' : 'optional'}); approvers: ${describePolicy(r.source.approvers)}${r.source.autoApprove !== undefined ? `; approved at once for: ${describePolicy(r.source.autoApprove)}` : ''}`
            : 'access request: not possible (a deny rule refuses this request; no approval changes that)',
        );
      }
      if (decision.trace && decision.trace.length > 0) {
        out.push('rules:');
        for (const t of decision.trace) {
          out.push(`  ${t.ok ? 'MATCH' : t.unknown ? '?    ' : 'no   '} ${t.list}[${t.index}] ${t.rule}`);
          for (const r of t.reasons) out.push(`          ${reasonText(r)}`);
        }
      }
      break;
    }
  }
  io.stdout.write(`${out.join('\n')}\n`);
  // A script can ask "would this be let through?": 0 only for allow; any refusal is 1 (2 is kept for usage errors,
  // so a broken command line or file never reads as a deny).
  return result.kind === 'decided' && result.decision.outcome === 'allow' ? 0 : 1;
};

/** A policy in one line: `policy NAME`, or its allow rules joined by "or" (and its deny rules). */
function describePolicy(p: string | PolicyConfig): string {
  if (typeof p === 'string') return `policy ${p}`;
  const allow = (p.allow ?? []).map((r) => describeRule(r)).join(' or ');
  const deny = (p.deny ?? []).map((r) => describeRule(r)).join(' or ');
  return `${allow}${deny ? `, unless ${deny}` : ''}`;
}

/** "code: plain words (detail)" for one reason. */
export function reasonText(r: Reason): string {
  return `${r.code}: ${REASONS[r.code]}${r.detail ? ` (${r.detail})` : ''}`;
}

/** Plain words for what a step-up must bring. */
export function describeStepUp(need: StepUpNeed): string {
  const parts: string[] = [];
  if (need.mfa) parts.push('multi-factor sign-in');
  if (need.acr && need.acr.length > 0) parts.push(`acr ${need.acr.join(' or ')}`);
  if (need.maxAge !== undefined) parts.push(`a sign-in at most ${need.maxAge}s old`);
  return parts.join(', ');
}

function describeIdentity(spec: IdentitySpec | undefined): string {
  if (!spec) return 'anonymous (not signed in)';
  const parts = [spec.user ?? spec.email ?? '?'];
  if (spec.email) parts.push(`email ${spec.email}${spec.emailVerified === false ? ' (unverified)' : ''}`);
  parts.push(`groups [${(spec.groups ?? []).join(', ')}]`);
  if (spec.amr && spec.amr.length > 0) parts.push(`amr [${spec.amr.join(', ')}]`);
  if (spec.acr) parts.push(`acr ${spec.acr}`);
  if (spec.claims && Object.keys(spec.claims).length > 0) parts.push(`claims ${JSON.stringify(spec.claims)}`);
  parts.push(`signed in ${spec.authAge ?? '0s'} ago`);
  return parts.join(', ');
}

function splitList(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** `--claim NAME=VALUE`...: VALUE as JSON when it is JSON, else a string; a repeated NAME makes a list. */
function parseClaims(pairs: string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`--claim "${pair}": expected NAME=VALUE`);
    const name = pair.slice(0, eq);
    const value = parseClaimValue(pair.slice(eq + 1));
    const prev = claims[name];
    claims[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return claims;
}
