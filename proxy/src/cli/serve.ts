// cli/serve.ts — `drawbridge serve [--config FILE]`: runs the proxy until SIGTERM/SIGINT; reloads the
// configuration on SIGHUP and when the file's content changes (checksum checked every 2 s).
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { fileChecksum, startDrawbridge, type Drawbridge } from '../server/server.js';
import type { Command } from './io.js';

const POLL_MS = 2000;

export const serve: Command = async (args, io) => {
  const { values } = parseArgs({ args, allowPositionals: false, options: { config: { type: 'string', short: 'c' } } });
  const file = values.config ?? io.env.DRAWBRIDGE_CONFIG ?? 'config/drawbridge.yaml';
  const loaded = loadConfigFile(file, io.env);
  if (!loaded.ok) {
    for (const e of loaded.errors) io.stderr.write(`${formatIssue(e)}\n`);
    io.stderr.write(`drawbridge serve: ${file} is invalid; not starting\n`);
    return 1;
  }
  const instance: Drawbridge = await startDrawbridge({ config: loaded.config, configFile: file, env: io.env });
  let last = fileChecksum(file);
  let reloading = false;
  const reload = async () => {
    if (reloading) return;
    reloading = true;
    try {
      await instance.reload();
      last = fileChecksum(file);
    } finally {
      reloading = false;
    }
  };
  const poll = setInterval(() => {
    const now = fileChecksum(file);
    if (now !== '' && now !== last) void reload();
  }, POLL_MS);
  poll.unref();
  process.on('SIGHUP', () => void reload());
  const stop = () => {
    clearInterval(poll);
    void instance.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return undefined;
};
