// cli/keygen.ts — `drawbridge keygen`: a new ES256 signing key (PKCS#8 PEM), its public key, and a session secret.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Command } from './io.js';

export const keygen: Command = async (_args, io) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  io.stdout.write('# assertion.keyFile (ES256 private key; keep it secret):\n');
  io.stdout.write(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  io.stdout.write('# its public key (for assertion.previousKeys after a rotation):\n');
  io.stdout.write(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  io.stdout.write('# session.secret (e.g. DRAWBRIDGE_SESSION_SECRET):\n');
  io.stdout.write(`${randomBytes(32).toString('base64url')}\n`);
  return 0;
};
