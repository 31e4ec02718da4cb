// tls/ocsp.ts — OCSP stapling for the listener's certificates: the response is fetched from the responder the
// certificate names (Authority Information Access), cached until its nextUpdate, and handed to clients that ask for
// it; no response (responder down, an error, a certificate without OCSP URL) means no staple, logged.
import { createHash, X509Certificate } from 'node:crypto';

/** A DER element: tag, the offsets of its content, and the offset after it. */
interface Tlv {
  tag: number;
  start: number;
  end: number;
  next: number;
}

function tlv(buf: Buffer, at: number): Tlv {
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  if (start + len > buf.length) throw new Error('truncated DER');
  return { tag, start, end: start + len, next: start + len };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const c = tlv(buf, at);
    out.push(c);
    at = c.next;
  }
  return out;
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const SHA1_ALGORITHM = der(0x30, Buffer.from('06052b0e03021a', 'hex'), Buffer.from('0500', 'hex'));

function headerLength(t: Tlv): number {
  const len = t.end - t.start;
  return 1 + (len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 4);
}

/** The whole element (header and content). */
function element(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start - headerLength(t), t.end);
}

/** From a certificate's TBSCertificate: the serial (INTEGER element), the subject Name element, the key's bits. */
function tbsFields(cert: Buffer): { serial: Buffer; subject: Buffer; publicKey: Buffer } {
  const fields = children(cert, children(cert, tlv(cert, 0))[0]!);
  const i = fields[0]!.tag === 0xa0 ? 1 : 0;
  const bits = children(cert, fields[i + 5]!)[1]!;
  // The key's BIT STRING content without its unused-bits byte.
  return { serial: element(cert, fields[i]!), subject: element(cert, fields[i + 4]!), publicKey: cert.subarray(bits.start + 1, bits.end) };
}

/** The DER OCSPRequest for a certificate, given its issuer's certificate (both DER). */
export function ocspRequest(certDer: Buffer, issuerDer: Buffer): Buffer {
  const issuer = tbsFields(issuerDer);
  const certId = der(
    0x30,
    SHA1_ALGORITHM,
    der(0x04, createHash('sha1').update(issuer.subject).digest()),
    der(0x04, createHash('sha1').update(issuer.publicKey).digest()),
    tbsFields(certDer).serial,
  );
  return der(0x30, der(0x30, der(0x30, der(0x30, certId))));
}

function generalizedTime(buf: Buffer, t: Tlv): number {
  const s = buf.subarray(t.start, t.end).toString('latin1');
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s);
  if (!m) throw new Error(`bad GeneralizedTime ${s}`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

export interface OcspStatus {
  status: 'good' | 'revoked' | 'unknown';
  thisUpdate: number;
  nextUpdate?: number;
}

/**
 * Reads what a DER OCSPResponse says of its (first) certificate; throws unless it is a successful basic response.
 * The signature is the client's to check (it trusts the issuer, Drawbridge only relays).
 */
export function readOcspResponse(res: Buffer): OcspStatus {
  const top = children(res, tlv(res, 0));
  const status = res[top[0]!.start];
  if (top[0]!.tag !== 0x0a || status !== 0) throw new Error(`the responder answered status ${status ?? '?'} (not successful)`);
  const bytes = children(res, children(res, top[1]!)[0]!);
  const basic = tlv(res, bytes[1]!.start);
  const data = children(res, children(res, basic)[0]!);
  const i = data[0]!.tag === 0xa0 ? 1 : 0;
  const responses = children(res, data[i + 2]!);
  const single = children(res, responses[0]!);
  const certStatus = single[1]!.tag;
  const thisUpdate = generalizedTime(res, single[2]!);
  const next = single.find((c) => c.tag === 0xa0);
  const nextUpdate = next ? generalizedTime(res, tlv(res, next.start)) : undefined;
  return { status: certStatus === 0x80 ? 'good' : certStatus === 0xa1 ? 'revoked' : 'unknown', thisUpdate, ...(nextUpdate !== undefined ? { nextUpdate } : {}) };
}

export interface OcspStaplerOptions {
  now?: () => number;
  /** Called with each failure to get a response (one per certificate per retry period). */
  onError?: (error: string, url: string, names: string) => void;
  /** How long to wait for the responder (default 5 s). */
  timeoutMs?: number;
}

/** Without nextUpdate a response is kept this long; a failure is retried after RETRY_MS. */
const DEFAULT_LIFETIME_MS = 3600_000;
const RETRY_MS = 60_000;

/** Fetches and caches OCSP responses for the listener's certificates; `response` answers node's `OCSPRequest` event. */
export class OcspStapler {
  private readonly cache = new Map<string, { response?: Buffer; until: number; pending?: Promise<Buffer | undefined> }>();
  private readonly now: () => number;

  constructor(private readonly options: OcspStaplerOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** The response to staple for a certificate (DER) and its issuer, or undefined: none to staple. */
  async response(certDer: Buffer, issuerDer: Buffer | null | undefined): Promise<Buffer | undefined> {
    const key = createHash('sha256').update(certDer).digest('hex');
    const hit = this.cache.get(key);
    const now = this.now();
    if (hit && now < hit.until) return hit.response;
    if (hit?.pending) return hit.pending;
    const pending = this.fetch(certDer, issuerDer).then(
      ({ response, until }) => {
        this.cache.set(key, { ...(response ? { response } : {}), until });
        return response;
      },
      () => undefined,
    );
    this.cache.set(key, { ...(hit?.response && hit.until > now ? { response: hit.response } : {}), until: 0, pending });
    return pending;
  }

  private async fetch(certDer: Buffer, issuerDer: Buffer | null | undefined): Promise<{ response?: Buffer; until: number }> {
    const cert = new X509Certificate(certDer);
    const url = /OCSP - URI:(\S+)/.exec(cert.infoAccess ?? '')?.[1];
    const names = cert.subjectAltName ?? cert.subject;
    const now = this.now();
    if (!url) return { until: Number.POSITIVE_INFINITY };
    const fail = (error: string) => {
      this.options.onError?.(error, url, names);
      return { until: now + RETRY_MS };
    };
    if (!issuerDer) return fail('the certificate file holds no issuer certificate after the leaf: OCSP needs it');
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
        body: new Uint8Array(ocspRequest(certDer, issuerDer)),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
      if (!res.ok) return fail(`the responder answered HTTP ${res.status}`);
      const body = Buffer.from(await res.arrayBuffer());
      const status = readOcspResponse(body);
      if (status.status !== 'good') return fail(`the responder says the certificate is ${status.status}`);
      const until = status.nextUpdate ?? status.thisUpdate + DEFAULT_LIFETIME_MS;
      if (until <= now) return fail('the response is already stale (nextUpdate passed)');
      return { response: body, until };
    } catch (e) {
      return fail((e as Error).message);
    }
  }
}
