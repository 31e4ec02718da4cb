// tls/acme-listener.ts — what `tls.acme` adds to the TLS listener: an ALPN callback and an SNI callback in front of
// the listener's certificate store (tls/contexts.ts) that answer TLS-ALPN-01 challenges; the obtained certificates
// are installed into that same store (by name, on new connections at once, surviving file reloads).
import type http from 'node:http';
import type https from 'node:https';
import type { SecureContext, TLSSocket } from 'node:tls';
import { AcmeChallenges } from './acme-challenges.js';
import type { CertificateSink } from './acme.js';
import type { TlsContexts } from './contexts.js';

/** The ACME parts of one TLS listener. */
export interface AcmeEdge {
  readonly challenges: AcmeChallenges;
  /** Where obtained certificates go: the listener's own certificate store. */
  readonly certificates: CertificateSink;
}

type SniCallback = (servername: string, callback: (err: Error | null, ctx?: SecureContext) => void) => void;

const EDGES = new WeakMap<http.Server | https.Server, AcmeEdge>();

/**
 * TLS options for a listener with ACME: ALPN and SNI callbacks (https.createServer spreads them in over the store's
 * options). Node asks the ALPN callback before the SNI one, with the socket as `this` in both: `acme-tls/1` is
 * chosen only while a challenge for that name is pending, and only that socket gets the challenge certificate;
 * every other name goes to the store's own SNI selection.
 */
export function acmeListenerOptions(edge: AcmeEdge, storeSni: SniCallback, protocols: readonly string[] = ['http/1.1']): Pick<https.ServerOptions, 'SNICallback' | 'ALPNCallback'> {
  return {
    ALPNCallback: edge.challenges.alpnCallback(protocols),
    SNICallback(this: unknown, servername: string, callback: (err: Error | null, ctx?: SecureContext) => void) {
      const challenge = edge.challenges.alpnContext(this as TLSSocket, servername);
      if (challenge) return callback(null, challenge);
      storeSni(servername, callback);
    },
  };
}

/** Creates the ACME parts of a listener whose certificates live in `store`. */
export function createAcmeEdge(store: TlsContexts): AcmeEdge {
  return {
    challenges: new AcmeChallenges(),
    certificates: {
      install(hosts, certPem, keyPem) {
        store.install(certPem, keyPem, { names: hosts, source: 'acme' });
      },
    },
  };
}

/** Remembers a listener's ACME parts (startDrawbridge finds them with acmeEdgeOf) and ends TLS-ALPN-01 validation connections after their handshake. */
export function attachAcmeEdge(server: https.Server, edge: AcmeEdge): void {
  EDGES.set(server, edge);
  server.prependListener('secureConnection', (socket: TLSSocket) => void edge.challenges.endValidation(socket));
}

export function acmeEdgeOf(server: http.Server | https.Server): AcmeEdge | undefined {
  return EDGES.get(server);
}
