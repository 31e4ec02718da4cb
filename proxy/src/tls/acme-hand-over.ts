// tls/acme-hand-over.ts — `tls.acme` with `workers: N`: one process (the primary) orders and renews, every worker
// serves. The primary's AcmeHandOver is the manager's certificate sink and challenge responder: it keeps what is in
// force (certificates, pending challenge answers) and hands every change to the workers as an AcmeUpdate, resolving
// once they all have it; a worker that starts later gets `snapshot()` before it listens. A worker applies updates to
// its listener's ACME parts (applyAcmeUpdate).
import type { ChallengeResponder } from './acme-challenges.js';
import type { AcmeEdge } from './acme-listener.js';
import type { CertificateSink } from './acme.js';

/** One change to what the workers' listeners serve. Plain data: it crosses the IPC channel. */
export type AcmeUpdate =
  | { kind: 'certificate'; hosts: string[]; certPem: string; keyPem: string }
  | { kind: 'http'; host: string; token: string; keyAuthorization: string }
  | { kind: 'http-done'; token: string }
  | { kind: 'alpn'; host: string; certPem: string; keyPem: string }
  | { kind: 'alpn-done'; host: string };

/** Applies an update to a listener's ACME parts; throws (nothing changed) when a certificate is unusable. */
export function applyAcmeUpdate(edge: AcmeEdge, update: AcmeUpdate): void {
  switch (update.kind) {
    case 'certificate':
      // A listener's own store installs at once (tls/acme-listener.ts).
      void edge.certificates.install(update.hosts, update.certPem, update.keyPem);
      return;
    case 'http':
      return edge.challenges.setHttp(update.host, update.token, update.keyAuthorization);
    case 'http-done':
      return edge.challenges.deleteHttp(update.token);
    case 'alpn':
      return edge.challenges.setAlpn(update.host, update.certPem, update.keyPem);
    case 'alpn-done':
      return edge.challenges.deleteAlpn(update.host);
  }
}

/** The primary's side: what the manager installs and presents, handed to every worker. */
export class AcmeHandOver implements CertificateSink, ChallengeResponder {
  private readonly distribute: (update: AcmeUpdate) => Promise<void>;
  /** By host: the certificate in force. */
  private readonly certificates = new Map<string, Extract<AcmeUpdate, { kind: 'certificate' }>>();
  private readonly http = new Map<string, Extract<AcmeUpdate, { kind: 'http' }>>();
  private readonly alpn = new Map<string, Extract<AcmeUpdate, { kind: 'alpn' }>>();

  /** `distribute` gives an update to every worker serving or starting, and resolves once each has applied it. */
  constructor(distribute: (update: AcmeUpdate) => Promise<void>) {
    this.distribute = distribute;
  }

  /** Everything in force, for a worker that starts now (applied before it listens). */
  snapshot(): AcmeUpdate[] {
    return [...new Set(this.certificates.values()), ...this.http.values(), ...this.alpn.values()];
  }

  // Each change is recorded before it is handed over: a worker forked meanwhile gets it in its snapshot.
  install(hosts: readonly string[], certPem: string, keyPem: string): Promise<void> {
    const update = { kind: 'certificate' as const, hosts: [...hosts], certPem, keyPem };
    for (const host of hosts) this.certificates.set(host, update);
    return this.distribute(update);
  }

  setHttp(host: string, token: string, keyAuthorization: string): Promise<void> {
    const update = { kind: 'http' as const, host, token, keyAuthorization };
    this.http.set(token, update);
    return this.distribute(update);
  }

  deleteHttp(token: string): Promise<void> {
    this.http.delete(token);
    return this.distribute({ kind: 'http-done', token });
  }

  setAlpn(host: string, certPem: string, keyPem: string): Promise<void> {
    const update = { kind: 'alpn' as const, host, certPem, keyPem };
    this.alpn.set(host, update);
    return this.distribute(update);
  }

  deleteAlpn(host: string): Promise<void> {
    this.alpn.delete(host);
    return this.distribute({ kind: 'alpn-done', host });
  }
}
