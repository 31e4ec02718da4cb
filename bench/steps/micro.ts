// bench/steps/micro.ts — the in-process rows, each in its own child on the proxy CPU: route matching and policy
// with 10 vs 10,000 routes, and the memory store's size with 100,000 sessions.
import { startChild } from '../child.js';
import type { RoutesResult } from '../micro-routes.js';
import type { SessionsResult } from '../micro-sessions.js';
import { log, type BenchRun } from './common.js';

export interface MicroResults {
  routes: RoutesResult | undefined;
  routesSkip: string | undefined;
  sessions: SessionsResult | undefined;
  sessionsSkip: string | undefined;
}

export async function runMicro({ o, pin }: BenchRun): Promise<MicroResults> {
  log('micro: route matching + policy, 10 vs 10,000 routes');
  let routes: RoutesResult | undefined;
  let routesSkip: string | undefined;
  try {
    const c = await startChild<{ result: RoutesResult }>('./micro-routes.ts', o.quick ? ['--quick'] : [], { cpu: pin.proxy, nodeArgs: ['--expose-gc'], readyTimeoutMs: 180_000 });
    routes = c.ready.result;
    await c.stop();
  } catch (e) {
    routesSkip = (e as Error).message.split('\n')[0];
  }
  log(`micro: ${o.sessions.toLocaleString('en-US')} sessions in the memory store`);
  let sessions: SessionsResult | undefined;
  let sessionsSkip: string | undefined;
  try {
    const c = await startChild<{ result: SessionsResult }>('./micro-sessions.ts', [String(o.sessions)], { cpu: pin.proxy, nodeArgs: ['--expose-gc'], readyTimeoutMs: 180_000 });
    sessions = c.ready.result;
    await c.stop();
  } catch (e) {
    sessionsSkip = (e as Error).message.split('\n')[0];
  }
  return { routes, routesSkip, sessions, sessionsSkip };
}
