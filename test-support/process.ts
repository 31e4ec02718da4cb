// test-support/process.ts — `bin/drawbridge.js` as a child process for whole-process tests: its JSON log lines
// collected as they come, waited for by content (never by time), and every child killed when the test file ends.
import { after } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const children = new Set<ChildProcess>();
let cleanup = false;

export interface DrawbridgeProcess {
  child: ChildProcess;
  logs: Record<string, any>[];
  stderr(): string;
  exited: Promise<number | null>;
  /** Stops it as an operator would (SIGTERM) and waits for it to exit; nothing when it has already exited. */
  stop(): Promise<void>;
  /** The first log line matching from the `from`-th on (default 0), or a rejection when the process exits first. */
  line(match: (l: Record<string, any>) => boolean, from?: number): Promise<Record<string, any>>;
}

/** Starts `bin/drawbridge.js ...args` from the source tree and collects its JSON log lines and stderr. */
export function drawbridgeProcess(...args: string[]): DrawbridgeProcess {
  return drawbridgeProcessWith({}, ...args);
}

/** As drawbridgeProcess, with node flags before bin/drawbridge.js (`--import` of a test's own module hooks). */
export function drawbridgeProcessWith(options: { nodeArgs?: string[] }, ...args: string[]): DrawbridgeProcess {
  if (!cleanup) {
    cleanup = true;
    after(() => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    });
  }
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(ROOT, 'bin/drawbridge.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DRAWBRIDGE_FROM_SOURCE: '1' } });
  children.add(child);
  const logs: Record<string, any>[] = [];
  const waiters: { match: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }[] = [];
  let stderr = '';
  let pending = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const text of lines) {
      if (!text.trim()) continue;
      const line = JSON.parse(text) as Record<string, any>;
      logs.push(line);
      for (const w of [...waiters]) if (w.match(line)) w.resolve(line);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
    line(match, from = 0) {
      const seen = logs.slice(from).find(match);
      if (seen) return Promise.resolve(seen);
      return Promise.race([
        new Promise<Record<string, any>>((resolve) => waiters.push({ match, resolve })),
        exited.then((code) => Promise.reject(new Error(`exited (${code}) first: ${stderr}`))),
      ]);
    },
  };
}
