// tls/policy.ts — the TLS policy of the listener: versions, suites and groups, from `tls` with safe defaults
// (TLS 1.2+, AEAD forward-secret suites only: no RSA key exchange, no CBC, no SHA-1 MACs).
import type { SecureContextOptions } from 'node:tls';
import type { Config } from '../schema/config.js';

/**
 * The default suites: TLS 1.3's three, then TLS 1.2's ECDHE with AES-GCM or ChaCha20-Poly1305 (Mozilla's
 * "intermediate" profile minus the finite-field DHE suites). Every one is AEAD and forward-secret.
 */
export const DEFAULT_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const DEFAULT_CURVES = 'X25519:P-256:P-384';

type TlsConfig = NonNullable<Config['tls']>;

/** The context options of the policy (no certificate): what every secure context of the listener is made with. */
export function policyOptions(tls: Pick<TlsConfig, 'minVersion' | 'ciphers' | 'curves'>): SecureContextOptions {
  return {
    minVersion: tls.minVersion ?? 'TLSv1.2',
    ciphers: tls.ciphers ?? DEFAULT_CIPHERS,
    ecdhCurve: tls.curves ?? DEFAULT_CURVES,
    // The server's order, strongest first, not the client's.
    honorCipherOrder: true,
  };
}
