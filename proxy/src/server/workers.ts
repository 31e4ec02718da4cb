// server/workers.ts — how many event loops `workers` asks for, and whether this process is one of a cluster's workers:
// what `serve` decides before it loads server/cluster.ts, which a Drawbridge of one process never needs.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Config } from '../schema/config.js';

/**
 * How many event loops `workers` asks for: `auto` is one per core but one (at least one), `cores` defaulting to
 * os.availableParallelism(). The core left over serves the primary (session store, admin), the kernel's network
 * stack and what shares the host: on 2 cores, 2 workers used 1.3–1.6× the CPU per request of 1 and had the worse
 * p99 at a fixed rate in 12 of 17 interleaved rounds, for no more throughput (docs/performance.md, "The tail").
 */
export function workerCount(config: Pick<Config, 'workers'>, cores = availableParallelism()): number {
  return config.workers === 'auto' ? Math.max(1, cores - 1) : config.workers;
}

/** True in a worker process of `startCluster` (server/cluster.ts). */
export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env.DRAWBRIDGE_WORKER !== undefined;
}
