// config/acme-hosts.ts — which host names `tls.acme` obtains certificates for (`hosts: auto` or a list), and why a
// name cannot be one: wildcards need DNS-01, IP addresses have no domain to validate.
import { parseFrom } from '../routes/from.js';
import { normalizeHost } from '../url/normalize.js';

export interface AcmeHostProblem {
  /** Where the name comes from: ['tls', 'acme', 'hosts', i] or ['routes', i, 'from']. */
  path: (string | number)[];
  message: string;
}

interface AcmeHostInput {
  publicUrl?: unknown;
  routes?: unknown;
  tls?: { certFile?: unknown; acme?: { hosts?: unknown } | undefined } | undefined;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Whether a normalized host name can be validated by HTTP-01 / TLS-ALPN-01 (a DNS name, not an IP address). */
function isDnsName(hostname: string): boolean {
  return !hostname.startsWith('[') && !IPV4.test(hostname) && hostname.includes('.');
}

/**
 * The host names `tls.acme` manages, sorted and unique, with the problems that make a name impossible. `auto`:
 * publicUrl's host and every exact route host (IP addresses skipped); a wildcard route is a problem unless
 * tls.certFile serves it. A list: each name must be an exact DNS name.
 */
export function acmeHosts(config: AcmeHostInput): { hosts: string[]; problems: AcmeHostProblem[] } {
  const acme = config.tls?.acme;
  const hosts = new Set<string>();
  const problems: AcmeHostProblem[] = [];
  if (!acme) return { hosts: [], problems };
  const setting = acme.hosts ?? 'auto';
  if (Array.isArray(setting)) {
    setting.forEach((raw, i) => {
      if (typeof raw !== 'string') return;
      const at = ['tls', 'acme', 'hosts', i];
      if (raw.startsWith('*.')) {
        problems.push({ path: at, message: `tls.acme.hosts: "${raw}" is a wildcard: a CA issues wildcard certificates only through DNS-01, which Drawbridge does not answer; cover it with tls.certFile/keyFile (a certificate obtained elsewhere) or list the exact names` });
        return;
      }
      const host = normalizeHost(raw, 'https');
      if (!host.ok || host.port !== undefined || host.host !== host.hostname) {
        problems.push({ path: at, message: `tls.acme.hosts: "${raw}" is not a host name (no scheme, port or path)` });
      } else if (!isDnsName(host.hostname)) {
        problems.push({ path: at, message: `tls.acme.hosts: "${raw}" is an IP address or a single label: a CA validates DNS names only` });
      } else hosts.add(host.hostname);
    });
    return { hosts: [...hosts].sort(), problems };
  }
  if (typeof config.publicUrl === 'string') {
    const m = /^https?:\/\/([^/?#]*)/i.exec(config.publicUrl);
    const host = m ? normalizeHost(m[1], 'https') : undefined;
    if (host?.ok && isDnsName(host.hostname)) hosts.add(host.hostname);
  }
  const fileCovers = typeof config.tls?.certFile === 'string';
  (Array.isArray(config.routes) ? config.routes : []).forEach((route: unknown, i) => {
    const from = route && typeof route === 'object' ? (route as { from?: unknown }).from : undefined;
    if (typeof from !== 'string') return;
    const parsed = parseFrom(from);
    if ('error' in parsed || parsed.scheme !== 'https') return;
    if (parsed.wildcard) {
      if (!fileCovers) {
        problems.push({ path: ['routes', i, 'from'], message: `tls.acme (hosts: auto) cannot obtain a certificate for *.${parsed.hostname}: a CA issues wildcard certificates only through DNS-01, which Drawbridge does not answer. Serve it with tls.certFile/keyFile (a wildcard certificate obtained elsewhere), or list its exact names in tls.acme.hosts` });
      }
      return;
    }
    if (isDnsName(parsed.hostname)) hosts.add(parsed.hostname);
  });
  return { hosts: [...hosts].sort(), problems };
}
