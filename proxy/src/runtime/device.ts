// runtime/device.ts — the verified device (client) certificate of a request, for admission and for the context a new
// session is bound to. The seam where the device-certificate work (mTLS, trusted X-Forwarded-Client-Cert) plugs in.
import type { IncomingMessage } from 'node:http';
import type { DeviceCertificate } from '../policy/input.js';
import type { Exchange } from './runtime.js';

/**
 * The request's verified device certificate, or undefined. Nothing verifies client certificates on this branch yet:
 * always undefined here (merge: return the certificate the TLS handshake or a trusted peer's header gave).
 */
export function requestDevice(_req: IncomingMessage, _x: Exchange): DeviceCertificate | undefined {
  return undefined;
}
