// policy/rules/device.ts — `device: { san: [URI:urn:device:laptop-42] }`: the request came with a verified device
// certificate (mutual TLS, or a trusted proxy's header) that has these issuer and subject fields, SAN entries or
// SHA-256 fingerprints.
import { defineRule, fail, frozen, pass, type SchemaKit, type Verdict } from '../rule.js';

const MISSING: Verdict = frozen(fail('device-missing'));
const ANY: Verdict = frozen(pass('device-ok'));

function criteria({ z }: SchemaKit) {
  const fieldValues = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
  const nameFields = z.record(z.string().min(1), fieldValues).refine((f) => Object.keys(f).length > 0, 'expected at least one FIELD: VALUE (CN, O, OU, ...)');
  const fingerprint = z.string().refine((s) => /^[0-9a-f]{64}$/i.test(s.replace(/:/g, '')), 'expected a SHA-256 fingerprint: 64 hex digits, colons allowed');

  return z
    .strictObject({
      issuer: nameFields.optional().describe('Issuer fields: every one listed equals (one of) its values.'),
      subject: nameFields.optional().describe('Subject fields: every one listed equals (one of) its values.'),
      san: z.array(z.string().regex(/^(URI|DNS|email|IP Address):./, 'expected TYPE:VALUE with TYPE one of URI, DNS, email, IP Address')).min(1).optional().describe('The certificate has one of these subjectAltName entries.'),
      fingerprints: z.array(fingerprint).min(1).optional().describe('The certificate is one of these (SHA-256 of its DER).'),
    })
    .refine((c) => Object.keys(c).length > 0, 'expected at least one of issuer, subject, san, fingerprints (or `device: true`)');
}

/** Does a certificate name (`{ CN: 'x', OU: 'a\nb' }`, repeated fields joined by a newline) have every wanted field? */
function nameMatcher(wanted: Record<string, string | string[]> | undefined): ((name: Readonly<Record<string, string>>) => string | undefined) | undefined {
  if (!wanted) return undefined;
  const fields = Object.entries(wanted).map(([field, v]) => ({ field, values: new Set(Array.isArray(v) ? v : [v]) }));
  return (name) => {
    for (const { field, values } of fields) {
      const actual = name[field];
      if (actual === undefined || !actual.split('\n').some((a) => values.has(a))) return field;
    }
    return undefined;
  };
}

/**
 * Passes when the request has a verified device certificate (its chain to `tls.clientCa`, validity and revocation
 * checked at this request) and it meets every listed criterion: `issuer`/`subject` fields equal one of their
 * values, one of its SAN entries is listed, its SHA-256 fingerprint is listed. `device: true` asks for any verified
 * device certificate. False without one, whoever is signed in.
 * ```yaml
 * allow:
 *   - and: [ { groups: [finance] }, { device: { issuer: { CN: Example Device CA }, san: [URI:urn:device:laptop-42] } } ]
 * ```
 */
export const deviceRule = defineRule({
  name: 'device',
  description:
    'The request came with a verified device certificate (tls.clientCa, or forwardedClientCert from a trusted proxy) whose issuer and subject fields, subjectAltName entries (URI:…, DNS:…, email:…) and SHA-256 fingerprint match every criterion listed; `true`: any verified one.',
  example: 'device: { issuer: { CN: Example Device CA }, san: [URI:urn:device:laptop-42] }',
  schema: (kit) => kit.z.union([kit.z.literal(true), criteria(kit)]),
  compile(value) {
    if (value === true) return ({ device }) => (device ? ANY : MISSING);
    const issuer = nameMatcher(value.issuer);
    const subject = nameMatcher(value.subject);
    const san = value.san ? new Set(value.san) : undefined;
    const fingerprints = value.fingerprints ? new Set(value.fingerprints.map((f) => f.replace(/:/g, '').toLowerCase())) : undefined;
    const ok = frozen(pass('device-ok', Object.keys(value).join(', ')));
    return function device({ device: cert }) {
      if (!cert) return MISSING;
      const badIssuer = issuer?.(cert.issuer);
      if (badIssuer !== undefined) return fail('device-unauthorized', `issuer ${badIssuer}`);
      const badSubject = subject?.(cert.subject);
      if (badSubject !== undefined) return fail('device-unauthorized', `subject ${badSubject}`);
      if (san && !cert.san.some((s) => san.has(s))) return fail('device-unauthorized', 'san');
      if (fingerprints && !fingerprints.has(cert.fingerprint256)) return fail('device-unauthorized', 'fingerprint');
      return ok;
    };
  },
});
