// tls/acme-listener.ts — what `tls.acme` adds to the TLS listener: SNI and ALPN callbacks that answer TLS-ALPN-01
// challenges and serve the obtained certificates by name. SEAM (issue 19): `SniCertificates` is a minimal per-host
// certificate store standing in for the listener's certificate store (tls/contexts.ts, SNI selection and hot
// rotation); at merge, that store implements CertificateSink (install) and its SNI callback consults
// `challenges.alpnContext(this, servername)` first and uses `challenges.alpnCallback(...)` as the ALPNCallback.
import type http from 'node:http';
import type https from 'node:https';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import { AcmeChallenges } from './acme-challenges.js';
import type { CertificateSink } from './acme.js';

/** Host name → the SecureContext of its obtained certificate. Unknown names get the listener's default (certFile) context. */
export class SniCertificates implements CertificateSink {
  private readonly contexts = new Map<string, SecureContext>();

  install(hosts: readonly string[], certPem: string, keyPem: string): void {
    const context = tls.createSecureContext({ cert: certPem, key: keyPem });
    for (const host of hosts) this.contexts.set(host.toLowerCase(), context);
  }

  get(servername: string): SecureContext | undefined {
    return this.contexts.get(servername.toLowerCase().replace(/\.$/, ''));
  }
}

/** The ACME parts of one TLS listener. */
export interface AcmeEdge {
  readonly challenges: AcmeChallenges;
  readonly certificates: SniCertificates;
}

const EDGES = new WeakMap<http.Server | https.Server, AcmeEdge>();

/** TLS options for a listener with ACME: the SNI and ALPN callbacks (https.createServer spreads them in). */
export function acmeListenerOptions(edge: AcmeEdge, protocols: readonly string[] = ['http/1.1']): Pick<https.ServerOptions, 'SNICallback' | 'ALPNCallback'> {
  return {
    ALPNCallback: edge.challenges.alpnCallback(protocols),
    SNICallback(this: unknown, servername: string, callback: (err: Error | null, ctx?: SecureContext) => void) {
      const context = edge.challenges.alpnContext(this as TLSSocket, servername) ?? edge.certificates.get(servername);
      callback(null, context);
    },
  };
}

/** Creates the ACME parts of a listener. */
export function createAcmeEdge(): AcmeEdge {
  return { challenges: new AcmeChallenges(), certificates: new SniCertificates() };
}

/** Remembers a listener's ACME parts (startDrawbridge finds them with acmeEdgeOf) and ends TLS-ALPN-01 validation connections after their handshake. */
export function attachAcmeEdge(server: https.Server, edge: AcmeEdge): void {
  EDGES.set(server, edge);
  server.prependListener('secureConnection', (socket: TLSSocket) => void edge.challenges.endValidation(socket));
}

export function acmeEdgeOf(server: http.Server | https.Server): AcmeEdge | undefined {
  return EDGES.get(server);
}
