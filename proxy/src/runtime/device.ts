// runtime/device.ts — the device certificate of a request (docs/device-trust.md): the one the client presented in
// the TLS handshake, or the one a trusted TLS-terminating proxy passed in forwardedClientCert's header; verified
// against the device CAs and revocation lists in force at every request, never only at the handshake.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { DeviceCertificate } from '../policy/input.js';
import type { Config } from '../schema/config.js';
import { deviceOf, DeviceTrust, HeaderDevices, type DeviceRefusal } from '../tls/client-certificate.js';

/** The device settings of a configuration snapshot, with their files read. */
export interface DeviceSettings {
  /** tls.clientCa/clientCrl: checks the handshake's certificate. */
  readonly tls?: DeviceTrust;
  /** tls.clientCert: required. */
  readonly required: boolean;
  /** forwardedClientCert: the header and the trust its certificates are checked against. */
  readonly header?: HeaderDevices;
}

/** What a request's device is: a verified certificate, or why the one presented is not (absent: none presented). */
export interface DeviceResult {
  readonly device?: DeviceCertificate;
  /** OpenSSL's verification error (`CERT_REVOKED`, `UNABLE_TO_GET_ISSUER_CERT`...) or Drawbridge's own check's. */
  readonly refusal?: DeviceRefusal | string;
}

/** Reads the device settings of a configuration (its CA and CRL files); undefined when it has none. Throws on a bad file. */
export function loadDeviceSettings(config: Config): DeviceSettings | undefined {
  const tls = config.tls?.clientCa ? DeviceTrust.read(config.tls.clientCa, config.tls.clientCrl, { ca: 'tls.clientCa', crl: 'tls.clientCrl' }) : undefined;
  const x = config.forwardedClientCert;
  let header: HeaderDevices | undefined;
  if (x) {
    const trust = x.caFile ? DeviceTrust.read(x.caFile, x.crlFile ?? (x.caFile === config.tls?.clientCa ? config.tls?.clientCrl : undefined), { ca: 'forwardedClientCert.caFile', crl: 'forwardedClientCert.crlFile' }) : x.crlFile ? DeviceTrust.read(config.tls!.clientCa!, x.crlFile, { ca: 'tls.clientCa', crl: 'forwardedClientCert.crlFile' }) : tls;
    if (trust) header = new HeaderDevices(x.header.toLowerCase(), trust);
  }
  if (!tls && !header) return undefined;
  return { ...(tls ? { tls } : {}), ...(header ? { header } : {}), required: config.tls?.clientCert === 'required' && tls !== undefined };
}

/** Per connection: the handshake's certificate, checked once per trust (a reload gives a new one). */
const BY_SOCKET = new WeakMap<object, { trust: DeviceTrust; cert: X509Certificate | undefined; device: DeviceCertificate | undefined; refusal: string | undefined; validTo: number }>();

const NONE: DeviceResult = Object.freeze({});

/**
 * The device of a request. From a trusted proxy with forwardedClientCert set, only its header counts (the
 * handshake's certificate is the proxy's own); from any other peer only the handshake's. `now` checks validity.
 */
export function requestDevice(req: IncomingMessage, trustedPeer: boolean, settings: DeviceSettings | undefined, now: number): DeviceResult {
  if (!settings) return NONE;
  if (settings.header && trustedPeer) return settings.header.resolve(req.headers[settings.header.header], now);
  const trust = settings.tls;
  const socket = req.socket as TLSSocket;
  if (!trust || socket.encrypted !== true) return NONE;
  let entry = BY_SOCKET.get(socket);
  if (entry === undefined || entry.trust !== trust || now > entry.validTo) {
    const cert = socket.getPeerX509Certificate();
    let refusal: string | undefined;
    if (cert) refusal = socket.authorized ? trust.check(cert, now) : String(socket.authorizationError ?? 'unverified');
    entry = { trust, cert, device: cert && refusal === undefined ? deviceOf(cert, 'tls') : undefined, refusal, validTo: cert && refusal === undefined ? Date.parse(cert.validTo) : Infinity };
    BY_SOCKET.set(socket, entry);
  }
  if (entry.device) return { device: entry.device };
  return entry.refusal ? { refusal: entry.refusal } : NONE;
}
