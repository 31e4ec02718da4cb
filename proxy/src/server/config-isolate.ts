// server/config-isolate.ts — `serve`'s start and every reload validate the configuration file in a short-lived worker
// thread (server/config-isolate-worker.ts), which hands back the validated, plain configuration: the serving
// process compiles it from modules that never import zod or the YAML parser, so their code and schemas (about 4 MB
// of heap) are never resident in it (docs/deploy.md "Memory"). `validate`, `explain` and `test` still call
// config/load.ts directly: they exit when done.
import { Worker } from 'node:worker_threads';
import type { ConfigIssue } from '../config/issue.js';
import type { LoadResult } from '../config/load.js';

/** What the worker is given. */
export interface IsolatedLoadRequest {
  file: string;
  env: Record<string, string | undefined>;
  /** The time the TLS file checks compare expiry with (tls/check.ts). */
  now: number;
}

/** What it hands back: config/load.ts's result, without the file's text. */
export type IsolatedLoadResult = LoadResult;

// The compiled build runs the .js beside this file. The TypeScript source (tsx: tests, `npm run demo`) runs the .ts,
// through tsx's loader registered in the thread first: node 20 gives a worker no loader hooks of its parent's.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './config-isolate-worker.ts' : './config-isolate-worker.js', import.meta.url);

function startWorker(workerData: IsolatedLoadRequest): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}

/**
 * Reads and validates `file` as config/load.ts `loadConfigFile` does (with tls/check.ts's file checks), in a worker
 * thread. Fails closed: a worker that cannot start, throws or ends without an answer is reported as one error at
 * the file's first line, never as a valid configuration.
 */
export function loadConfigIsolated(file: string, env: Readonly<Record<string, string | undefined>>, now: number = Date.now()): Promise<IsolatedLoadResult> {
  return new Promise((resolve) => {
    const failed = (why: string): void => resolve({ ok: false, errors: [issue(file, `validating the configuration: ${why}`)] });
    let worker: Worker;
    try {
      const request: IsolatedLoadRequest = { file, env: { ...env }, now };
      worker = startWorker(request);
    } catch (e) {
      failed((e as Error).message);
      return;
    }
    let answered = false;
    worker.once('message', (result: IsolatedLoadResult) => {
      answered = true;
      resolve(result);
    });
    worker.once('error', (e) => failed(e.message));
    worker.once('exit', (code) => {
      if (!answered) failed(`the validating thread ended (exit code ${code}) without an answer`);
    });
  });
}

function issue(file: string, message: string): ConfigIssue {
  return { file, line: 1, col: 1, message };
}
