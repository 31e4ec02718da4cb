// bench/steps/cpu.ts — CPU figures from Linux /proc: busy share per CPU, CPU seconds of the processes under test,
// and a process's children (nginx workers).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Busy and total jiffies per CPU from /proc/stat (Linux), for the CPU-busy columns. */
export function cpuTimes(): Map<string, { busy: number; total: number }> | undefined {
  try {
    const out = new Map<string, { busy: number; total: number }>();
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const v = m[2]!.trim().split(/\s+/).map(Number);
      const idle = (v[3] ?? 0) + (v[4] ?? 0);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      out.set(m[1]!, { busy: total - idle, total });
    }
    return out;
  } catch {
    return undefined;
  }
}

export function busyPct(before: ReturnType<typeof cpuTimes>, after: ReturnType<typeof cpuTimes>, cpu: string | undefined): number | undefined {
  if (cpu === undefined) return undefined;
  const a = before?.get(cpu);
  const b = after?.get(cpu);
  if (!a || !b || b.total === a.total) return undefined;
  return (100 * (b.busy - a.busy)) / (b.total - a.total);
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU seconds (user + system) used so far by these processes (Linux /proc; 0 when unreadable). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone or not Linux
    }
  }
  return ticks / CLK_TCK;
}

/** A process's resident memory in bytes (VmRSS from /proc; 0 when unreadable). */
export function readRss(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * A process's private resident memory in bytes (RssAnon from /proc: its heaps, not the pages of the node binary and
 * libraries it maps, which every node process on the machine shares; 0 when unreadable).
 */
export function readRssAnon(pid: number): number {
  try {
    const m = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The pids of a process's children (nginx workers), from /proc. */
export function childPids(pid: number): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}
