// tls/acme-challenges.ts — the answers to pending ACME challenges: HTTP-01 key authorizations (served by the port-80
// listener, tls/http-challenge.ts) and TLS-ALPN-01 certificates (served on the TLS listener to a client that asks for
// the `acme-tls/1` protocol only, RFC 8737). Filled by tls/acme.ts while an order is open, emptied after it.
import tls, { type SecureContext, type TLSSocket } from 'node:tls';

/** The ALPN protocol of TLS-ALPN-01 (RFC 8737 §6.2). */
export const ACME_TLS_ALPN = 'acme-tls/1';

const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/**
 * What tls/acme.ts writes a pending challenge's answer to: this process's listeners, or with `workers: N` every
 * worker's (server/cluster-acme.ts: a promise that resolves once they all have it, before the CA is told to look).
 */
export interface ChallengeResponder {
  setHttp(host: string, token: string, keyAuthorization: string): void | Promise<void>;
  deleteHttp(token: string): void | Promise<void>;
  /** The self-signed certificate carrying the acmeIdentifier extension for `host` (acme-client createAlpnCertificate). */
  setAlpn(host: string, certPem: string, keyPem: string): void | Promise<void>;
  deleteAlpn(host: string): void | Promise<void>;
}

/** The pending challenges of one Drawbridge instance, and the hooks its listeners answer them with. */
export class AcmeChallenges implements ChallengeResponder {
  private readonly http = new Map<string, { host: string; keyAuthorization: string }>();
  private readonly alpn = new Map<string, SecureContext>();
  /** TLS sockets that negotiated acme-tls/1 for a name with a pending challenge (set by the ALPN callback). */
  private readonly alpnSockets = new WeakSet<TLSSocket>();

  setHttp(host: string, token: string, keyAuthorization: string): void {
    if (!TOKEN.test(token)) throw new Error(`refusing an HTTP-01 token that is not base64url: ${JSON.stringify(token.slice(0, 40))}`);
    this.http.set(token, { host: host.toLowerCase(), keyAuthorization });
  }

  deleteHttp(token: string): void {
    this.http.delete(token);
  }

  setAlpn(host: string, certPem: string, keyPem: string): void {
    this.alpn.set(host.toLowerCase(), tls.createSecureContext({ cert: certPem, key: keyPem }));
  }

  deleteAlpn(host: string): void {
    this.alpn.delete(host.toLowerCase());
  }

  /** The key authorization for `GET /.well-known/acme-challenge/<token>` on `host`, when that challenge is pending. */
  httpAnswer(host: string, token: string): string | undefined {
    const pending = this.http.get(token);
    // Bound to the name being validated: another Host asking for the token learns nothing.
    return pending && pending.host === host ? pending.keyAuthorization : undefined;
  }

  /**
   * The TLS listener's `ALPNCallback`: chooses `acme-tls/1` when the client offers it and a TLS-ALPN-01 challenge
   * for its server name is pending (and marks the socket so that the SNI callback answers with the challenge
   * certificate), else the first of `protocols` (the server's preference) the client offers. Nothing in common:
   * `undefined`, which makes node refuse the handshake (no_application_protocol), so a client that offers only
   * acme-tls/1 never gets a normal certificate and application data.
   */
  alpnCallback(protocols: readonly string[] = ['http/1.1']): (this: TLSSocket, info: { servername: string; protocols: string[] }) => string | undefined {
    const { alpn, alpnSockets } = this;
    return function (this: TLSSocket, info) {
      if (info.protocols.includes(ACME_TLS_ALPN)) {
        if (info.servername && alpn.has(info.servername.toLowerCase())) {
          alpnSockets.add(this);
          return ACME_TLS_ALPN;
        }
        return undefined;
      }
      // A client that sends no ALPN extension never gets here (node calls the callback only when it is present).
      return protocols.find((p) => info.protocols.includes(p));
    };
  }

  /**
   * For the TLS listener's SNI callback, consulted before any other certificate: the challenge context when this
   * socket negotiated acme-tls/1 for `servername` (the ALPN callback runs before the SNI callback, both with the
   * socket as `this`). Any other socket: `undefined`.
   */
  alpnContext(socket: TLSSocket | undefined, servername: string): SecureContext | undefined {
    if (!socket || !this.alpnSockets.has(socket)) return undefined;
    return this.alpn.get(servername.toLowerCase());
  }

  /**
   * For the TLS listener's `secureConnection`: a TLS-ALPN-01 validation connection carries no HTTP; it is ended as
   * soon as its handshake (which showed the challenge certificate) is done. Returns whether it was one.
   */
  endValidation(socket: TLSSocket): boolean {
    if (socket.alpnProtocol !== ACME_TLS_ALPN) return false;
    socket.end();
    return true;
  }
}
