// cli/serve.ts — `drawbridge serve [--config FILE]`: runs the proxy until SIGTERM/SIGINT, then drains the requests in
// flight and logs `event: shutdown`; reloads the configuration on SIGHUP and when its content, or that of a TLS
// file it names, changes.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatIssue } from '../config/issue.js';
import type { Served } from '../server/cluster.js';
import { fileChecksum, startDrawbridge } from '../server/server.js';
import { isClusterWorker, workerCount } from '../server/workers.js';
import { loadConfigIsolated } from '../server/config-isolate.js';
import { applyV8RuntimeFlags } from '../server/node-flags.js';
import type { Command } from './io.js';

const POLL_MS = 2000;
/** How long a SIGTERM/SIGINT waits for the requests in flight (a Kubernetes pod gets 30 s by default). */
const DRAIN_MS = 10_000;
const EXIT_GRACE_MS = 2000;

/** What to do when there is no configuration file yet (the first `npm start` of a fresh clone). */
export function missingConfigHelp(file: string, isDefault: boolean): string {
  return [
    `drawbridge serve: no configuration at ${file}${isDefault ? ' (the default path; --config FILE or DRAWBRIDGE_CONFIG choose another)' : ''}; not starting.`,
    'To create one:',
    `  cp config/example.yaml ${file}      # then edit publicUrl, idp and routes`,
    '  npx --no drawbridge keygen          # a session secret and an assertion key',
    `  npx --no drawbridge validate ${file}`,
    'docs/getting-started.md walks through it; `npm run demo` runs a complete local stack without a configuration.',
    '',
  ].join('\n');
}

export const serve: Command = async (args, io) => {
  // The V8 settings node refuses in NODE_OPTIONS (docs/deploy.md "Memory"): a worker of `workers: N` too.
  applyV8RuntimeFlags();
  // A worker of `workers: N` (server/cluster.ts) takes its configuration from the primary, never from the file.
  if (isClusterWorker()) {
    (await import('../server/cluster.js')).runWorker(io.env);
    return undefined;
  }
  const { values } = parseArgs({ args, allowPositionals: false, options: { config: { type: 'string', short: 'c' } } });
  const file = values.config ?? io.env.DRAWBRIDGE_CONFIG ?? 'config/drawbridge.yaml';
  if (!existsSync(file)) {
    io.stderr.write(missingConfigHelp(file, values.config === undefined && io.env.DRAWBRIDGE_CONFIG === undefined));
    return 1;
  }
  // The TLS files are read and checked too: a bad one is reported at its key, never as a bare OpenSSL message. In a
  // worker thread: this process never loads zod or the YAML parser (server/config-isolate.ts).
  const loaded = await loadConfigIsolated(file, io.env);
  if (!loaded.ok) {
    for (const e of loaded.errors) io.stderr.write(`${formatIssue(e)}\n`);
    io.stderr.write(`drawbridge serve: ${file} is invalid; not starting\n`);
    return 1;
  }
  for (const w of loaded.warnings) io.stderr.write(`${formatIssue(w)}\n`);
  const workers = workerCount(loaded.config);
  // server/cluster.ts only with several workers: a single process never loads the primary's machinery.
  const instance: Served =
    workers > 1 ? await (await import('../server/cluster.js')).startCluster({ config: loaded.config, configFile: file, env: io.env, workers }) : await startDrawbridge({ config: loaded.config, configFile: file, env: io.env });
  // The configuration and the TLS files it names (certificates, keys, CAs): a change to any of them reloads.
  const checksums = () => [file, ...instance.watchedFiles()].map(fileChecksum).join(':');
  let last = checksums();
  let reloading = false;
  const reload = async () => {
    if (reloading) return;
    reloading = true;
    try {
      await instance.reload();
      last = checksums();
    } finally {
      reloading = false;
    }
  };
  const poll = setInterval(() => {
    const now = checksums();
    if (!now.startsWith(':') && now !== last) void reload();
  }, POLL_MS);
  poll.unref();
  const stop = (signal: NodeJS.Signals) => {
    clearInterval(poll);
    process.off('SIGHUP', onHup);
    // A second signal during the drain is not caught (once): it ends the process at once.
    process.off(signal === 'SIGTERM' ? 'SIGINT' : 'SIGTERM', stop);
    void instance.close({ drainMs: DRAIN_MS, signal }).then(() => {
      // Everything is closed, so the process ends by itself once the log is written; a stray handle cannot hold it.
      setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
    });
  };
  const onHup = () => void reload();
  process.on('SIGHUP', onHup);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return undefined;
};
