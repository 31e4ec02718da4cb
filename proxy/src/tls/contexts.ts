// tls/contexts.ts — the listener's certificates and secure contexts, swappable while it runs: the files of `tls`
// (re-read on reload, a bad pair refused with the old ones kept), certificates installed by other sources (ACME),
// the choice by SNI, and the session-ticket key rotation.
import { randomBytes } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import { createSecureContext, type SecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { Config } from '../schema/config.js';
import { parseDuration } from '../policy/duration.js';
import { certifiedKey, nameCovers, readCertifiedKey, type CertifiedKey, type FileLabel } from './certificate.js';
import { OcspStapler } from './ocsp.js';
import { policyOptions } from './policy.js';
import { clientAuthOptions } from './client-certificate.js';

type TlsConfig = NonNullable<Config['tls']>;
type Listener = TlsServer | HttpsServer;

/** One certificate the listener can serve, with the context made of it. */
export interface ServedCertificate {
  /** `file` for the certificates of `tls`, else what installed it (`acme`). */
  readonly source: string;
  /** The names it is chosen for (its DNS names and addresses unless installed for given names). */
  readonly names: readonly string[];
  readonly certified: CertifiedKey;
  readonly context: SecureContext;
  /** For `file` certificates: the configuration keys and paths it came from. */
  readonly files?: readonly FileLabel[];
}

export interface TlsContextsOptions {
  /** The clock (ms since epoch): certificate validity and ticket rotation read it. Tests move it. */
  now?: () => number;
  /**
   * A session-ticket key given from outside (`workers: N`: the primary's, the same in every worker, server/cluster.ts):
   * the listener starts with it and never rotates by itself; `useTicketKey` replaces it.
   */
  ticketKey?: Buffer;
}

/** Size of node's session-ticket key: 16 bytes name, 16 bytes HMAC secret, 16 bytes AES key. */
const TICKET_KEY_BYTES = 48;
/** The rotation timer's period at most: the clock is read this often, so a moved clock is seen within it. */
const TICKET_CHECK_MS = 60_000;

/**
 * The certificates of one TLS listener. Created from `tls` (reading its files: a bad pair throws, naming the key
 * and the file), it gives the listener its options (`serverOptions`), chooses a certificate by SNI, and replaces
 * them while the listener runs: `reload(tls)` for the files, `install`/`remove` for other sources. New connections
 * get the new certificates; open ones keep theirs.
 */
export class TlsContexts {
  private readonly now: () => number;
  private policy: SecureContextOptions;
  /** The certificates of `tls`, the default first. */
  private fromFiles: ServedCertificate[] = [];
  /** Certificates installed by other sources, by name; they win over a file's for the same name. */
  private readonly installed = new Map<string, ServedCertificate>();
  private readonly servers = new Set<Listener>();
  private ticketKey: Buffer;
  /** The ticket key is given from outside (`useTicketKey`): no rotation timer here. */
  private readonly sharedTicketKey: boolean;
  private ticketKeyAt: number;
  private rotationMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly ocsp: OcspStapler;
  private ocspReport: ((e: { error: string; url: string; names: string }) => void) | undefined;
  /** tls.clientCa and tls.clientCrl: watched like the certificates. */
  private clientFiles: string[];

  constructor(tls: TlsConfig, options: TlsContextsOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sharedTicketKey = options.ticketKey !== undefined;
    this.ticketKey = options.ticketKey ? checkTicketKey(options.ticketKey) : randomBytes(TICKET_KEY_BYTES);
    this.policy = listenerPolicy(tls);
    this.clientFiles = [tls.clientCa, tls.clientCrl].filter((f): f is string => f !== undefined);
    this.rotationMs = parseDuration(tls.ticketKeyRotation ?? '12h');
    this.ticketKeyAt = this.now();
    this.ocsp = new OcspStapler({ now: this.now, onError: (error, url, names) => this.ocspReport?.({ error, url, names }) });
    this.fromFiles = this.loadFiles(tls);
  }

  /** Options for `https.createServer`: the policy, the default certificate, the SNI choice, the ticket key. */
  serverOptions(): SecureContextOptions & { SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void } {
    const first = this.defaultCertificate();
    return { ...this.policy, ...(first ? { cert: first.certified.certPem, key: first.certified.keyPem } : {}), ticketKeys: this.ticketKey, SNICallback: this.sniCallback };
  }

  /** Follows a listener created with `serverOptions()`: reloads and installs reach it. */
  attach(server: Listener): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
    // Asked only by clients that request a staple (status_request): the certificate's responder, cached.
    server.on('OCSPRequest', (cert: Buffer, issuer: Buffer | null, cb: (err: Error | null, response?: Buffer) => void) => {
      void this.ocsp.response(cert, issuer).then((response) => cb(null, response));
    });
  }

  /** Where a failure to get an OCSP response is reported (no staple is sent then). */
  reportOcspTo(report: (e: { error: string; url: string; names: string }) => void): void {
    this.ocspReport = report;
  }

  /** The certificate a client asking for `servername` gets (undefined: none covers it, the default is used). */
  select(servername: string): ServedCertificate | undefined {
    const name = servername.toLowerCase().replace(/\.$/, '');
    const exact = this.installed.get(name);
    if (exact) return exact;
    for (const c of this.fromFiles) if (c.names.includes(name)) return c;
    for (const c of new Set(this.installed.values())) if (c.names.some((n) => nameCovers(n, name))) return c;
    for (const c of this.fromFiles) if (c.names.some((n) => nameCovers(n, name))) return c;
    return undefined;
  }

  /**
   * The certificate served without SNI or for a name no certificate covers: the files' first. An installed (ACME)
   * certificate is only ever served to its own names: a client asking for any other name gets no handshake, not
   * another host's certificate (which would also tell it which names Drawbridge serves).
   */
  defaultCertificate(): ServedCertificate | undefined {
    return this.fromFiles[0];
  }

  /** Every certificate served, files first. */
  certificates(): ServedCertificate[] {
    return [...this.fromFiles, ...new Set(this.installed.values())];
  }

  /** The files to watch for changes. */
  files(): string[] {
    return [...this.fromFiles.flatMap((c) => (c.files ?? []).map((f) => f.file)), ...this.clientFiles];
  }

  /**
   * Reads `tls` again (files and policy). Every pair is checked first: any bad one (unreadable, mismatched,
   * expired) throws and nothing changes. On success new connections get the new certificates and policy.
   */
  reload(tls: TlsConfig): void {
    const policy = listenerPolicy(tls);
    const previous = this.policy;
    this.policy = policy;
    try {
      const loaded = this.loadFiles(tls);
      this.fromFiles = loaded;
    } catch (e) {
      this.policy = previous;
      throw e;
    }
    // Installed certificates get the new policy too.
    for (const [name, c] of this.installed) this.installed.set(name, { ...c, context: this.context(c.certified) });
    this.rotationMs = parseDuration(tls.ticketKeyRotation ?? '12h');
    this.clientFiles = [tls.clientCa, tls.clientCrl].filter((f): f is string => f !== undefined);
    this.applyDefault();
  }

  /**
   * Installs (or replaces) a certificate and key for host names: what ACME calls with a certificate it obtained.
   * `names` default to the certificate's own names. The pair is checked like a file's (key matches, valid now);
   * a bad one throws and nothing changes. Installed certificates win over the files' for the same names.
   */
  install(certPem: Buffer | string, keyPem: Buffer | string, options: { names?: readonly string[]; source?: string } = {}): ServedCertificate {
    const source = options.source ?? 'acme';
    const where: FileLabel = { key: `${source} certificate`, file: options.names?.join(', ') ?? 'memory' };
    const certified = certifiedKey(Buffer.from(certPem), Buffer.from(keyPem), where, where, this.now());
    const names = (options.names ?? certified.names).map((n) => n.toLowerCase());
    const served: ServedCertificate = { source, names, certified, context: this.context(certified) };
    for (const name of names) this.installed.set(name, served);
    this.applyDefault();
    return served;
  }

  /** Removes the installed certificate of a name (the files' certificates then serve it again). */
  remove(name: string): void {
    this.installed.delete(name.toLowerCase());
    this.applyDefault();
  }

  /** Replaces the session-ticket key: tickets issued under the old one no longer resume (a full handshake instead). */
  rotateTicketKeys(): void {
    this.useTicketKey(randomBytes(TICKET_KEY_BYTES));
  }

  /**
   * Replaces the session-ticket key with a given one (`workers: N`: the key the primary gives every worker, so a
   * ticket one worker issued resumes on any other). New handshakes use it at once; tickets under the old key make a
   * full handshake.
   */
  useTicketKey(key: Buffer): void {
    this.ticketKey = checkTicketKey(key);
    this.ticketKeyAt = this.now();
    for (const server of this.servers) server.setTicketKeys(this.ticketKey);
    for (const c of this.certificates()) setTicketKey(c.context, this.ticketKey);
  }

  /** Rotates the ticket key when it is `ticketKeyRotation` old; the timer calls it, tests call it after moving the clock. */
  tick(): boolean {
    if (this.sharedTicketKey) return false;
    if (this.now() - this.ticketKeyAt < this.rotationMs) return false;
    this.rotateTicketKeys();
    return true;
  }

  /** Starts the rotation timer (unref'd). */
  start(): void {
    if (this.sharedTicketKey) return;
    this.timer ??= setInterval(() => this.tick(), Math.min(this.rotationMs, TICKET_CHECK_MS));
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.select(servername)?.context);
  };

  private loadFiles(tls: TlsConfig): ServedCertificate[] {
    const now = this.now();
    const pairs: { cert: FileLabel; key: FileLabel }[] = [];
    if (tls.certFile && tls.keyFile) pairs.push({ cert: { key: 'tls.certFile', file: tls.certFile }, key: { key: 'tls.keyFile', file: tls.keyFile } });
    (tls.certificates ?? []).forEach((c, i) => pairs.push({ cert: { key: `tls.certificates[${i}].certFile`, file: c.certFile }, key: { key: `tls.certificates[${i}].keyFile`, file: c.keyFile } }));
    return pairs.map(({ cert, key }) => {
      const certified = readCertifiedKey(cert, key, now);
      return { source: 'file', names: certified.names, certified, context: this.context(certified), files: [cert, key] };
    });
  }

  private context(certified: CertifiedKey): SecureContext {
    const context = createSecureContext({ ...this.policy, cert: certified.certPem, key: certified.keyPem });
    setTicketKey(context, this.ticketKey);
    return context;
  }

  /** Gives the listeners the current default certificate and policy (for new connections). */
  private applyDefault(): void {
    const first = this.defaultCertificate();
    // Whether to ask for a client certificate is the listener's, read at each new connection (setSecureContext
    // leaves it): tls.clientCa added or removed by a reload applies to the next connection.
    const requestCert = (this.policy as { requestCert?: boolean }).requestCert === true;
    for (const server of this.servers) {
      const s = server as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
      s.requestCert = requestCert;
      if (requestCert) s.rejectUnauthorized = false;
      server.setSecureContext({ ...this.policy, ...(first ? { cert: first.certified.certPem, key: first.certified.keyPem } : {}), ticketKeys: this.ticketKey });
    }
  }
}

/**
 * The options every secure context of the listener is made with: the TLS policy, and with `tls.clientCa` the
 * request for a client certificate with its CAs and revocation lists (in every SNI context, so the name a client
 * asks for never changes what is checked).
 */
function listenerPolicy(tls: TlsConfig): SecureContextOptions {
  return { ...policyOptions(tls), ...clientAuthOptions(tls) };
}

/** A new random session-ticket key of the size node takes. */
export function newTicketKey(): Buffer {
  return randomBytes(TICKET_KEY_BYTES);
}

function checkTicketKey(key: Buffer): Buffer {
  if (key.length !== TICKET_KEY_BYTES) throw new Error(`a session-ticket key is ${TICKET_KEY_BYTES} bytes, not ${key.length}`);
  return Buffer.from(key);
}

function setTicketKey(context: SecureContext, key: Buffer): void {
  (context as unknown as { context: { setTicketKeys(k: Buffer): void } }).context.setTicketKeys(key);
}

const BY_SERVER = new WeakMap<object, TlsContexts>();

/** Remembers the contexts of a listener (createListener makes both; startDrawbridge finds them for reloads). */
export function bindContexts(server: Listener, contexts: TlsContexts): void {
  BY_SERVER.set(server, contexts);
  contexts.attach(server);
}

/** The contexts of a listener made by `bindContexts`, or undefined (a plain HTTP listener). */
export function contextsOf(server: object): TlsContexts | undefined {
  return BY_SERVER.get(server);
}
