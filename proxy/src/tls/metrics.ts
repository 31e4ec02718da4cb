// tls/metrics.ts — the TLS series on an instance's registry: when each served certificate expires, and which routes
// do not verify their upstream's certificate.
import { Gauge, type Registry } from 'prom-client';
import type { ServedCertificate } from './contexts.js';

export interface TlsMetricsSource {
  certificates(): readonly ServedCertificate[];
  /** Names of the routes with upstreamTls.insecureSkipVerify. */
  insecureRoutes(): readonly string[];
}

/** Registers `drawbridge_tls_certificate_not_after_seconds` and `drawbridge_upstream_tls_insecure_routes`, read at each scrape. */
export function registerTlsMetrics(registry: Registry, source: TlsMetricsSource): void {
  new Gauge({
    name: 'drawbridge_tls_certificate_not_after_seconds',
    help: 'When each certificate the listener serves expires (Unix time), by its names and source (file, acme).',
    labelNames: ['names', 'source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of source.certificates()) this.set({ names: c.names.join(','), source: c.source }, Math.floor(c.certified.notAfter / 1000));
    },
  });
  new Gauge({
    name: 'drawbridge_upstream_tls_insecure_routes',
    help: 'Routes that do not verify their upstream\'s certificate (upstreamTls.insecureSkipVerify): 1 per route.',
    labelNames: ['route'],
    registers: [registry],
    collect() {
      this.reset();
      for (const route of source.insecureRoutes()) this.set({ route }, 1);
    },
  });
}
