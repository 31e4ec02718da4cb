// bench/steps/baseline-rows.ts — the rows Drawbridge is compared with: the upstream itself (direct), nginx, the
// bare http-proxy and node's own floor (node:http + undici, nothing else), and the shared upstream every proxy row ends at.
import { startChild, type Child } from '../child.js';
import { findNginx, startNginx, type RunningNginx } from '../nginx.js';
import { log, type BenchRun, type RowPlan } from './common.js';
import { childPids } from './cpu.js';

/** Starts the upstreams and the baseline rows; their plans are appended to `plans`. */
export async function startBaselineRows({ pin, cleanups }: BenchRun, plans: RowPlan[]): Promise<{ upstream: Child<{ port: number }>; upstreamUrl: string; nginxFound: ReturnType<typeof findNginx> }> {
  log(`pinning: ${pin.reason ?? `proxy under test on CPU ${pin.proxy}, load generator/upstream/redis on CPU ${pin.load}`}`);
  const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
  cleanups.push(() => upstream.stop());
  const direct = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.proxy });
  cleanups.push(() => direct.stop());
  const upstreamUrl = `http://127.0.0.1:${upstream.ready.port}`;

  plans.push({ name: 'direct', port: direct.ready.port, host: `127.0.0.1:${direct.ready.port}`, headers: {}, upstream: direct, expectUser: null, pids: [direct.process.pid!] });

  const nginxFound = findNginx();
  let nginx: RunningNginx | undefined;
  let nginxSkip: string | undefined = 'reason' in nginxFound ? nginxFound.reason : undefined;
  if ('binary' in nginxFound) {
    try {
      nginx = await startNginx(nginxFound.binary, upstream.ready.port, pin.proxy);
      const n = nginx;
      cleanups.push(() => n.stop());
    } catch (e) {
      nginxSkip = (e as Error).message;
    }
  }
  const nginxPids = nginx ? [nginx.process.pid!, ...childPids(nginx.process.pid!)] : [];
  plans.push({ name: 'nginx', port: nginx?.port ?? 0, host: 'bench.localhost', headers: {}, upstream, expectUser: null, pids: nginxPids, ...(nginxSkip ? { skipped: nginxSkip } : {}) });

  const bare = await startChild<{ port: number }>('./bare-proxy.ts', [upstreamUrl], { cpu: pin.proxy });
  cleanups.push(() => bare.stop());
  plans.push({ name: 'bare-http-proxy', port: bare.ready.port, host: 'bench.localhost', headers: {}, upstream, expectUser: null, pids: [bare.process.pid!] });

  const floor = await startChild<{ port: number }>('./node-floor.ts', [upstreamUrl], { cpu: pin.proxy });
  cleanups.push(() => floor.stop());
  plans.push({ name: 'node-floor', port: floor.ready.port, host: 'bench.localhost', headers: {}, upstream, expectUser: null, pids: [floor.process.pid!] });
  return { upstream, upstreamUrl, nginxFound };
}
