// server/config-isolate-worker.ts — the worker thread of server/config-isolate.ts: reads and validates one
// configuration file (YAML, ${ENV}, schema, semantic and TLS file checks) and posts the result back, then ends; zod
// and the YAML parser live and die with this thread's isolate, never in the serving one.
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfigFile } from '../config/load.js';
import { checkTlsFiles } from '../tls/check.js';
import type { IsolatedLoadRequest, IsolatedLoadResult } from './config-isolate.js';

const { file, env, now } = workerData as IsolatedLoadRequest;
const loaded = loadConfigFile(file, env, { fileChecks: (c) => checkTlsFiles(c, now) });
const result: IsolatedLoadResult = loaded.ok ? { ok: true, config: loaded.config, warnings: loaded.warnings } : { ok: false, errors: loaded.errors };
parentPort!.postMessage(result);
