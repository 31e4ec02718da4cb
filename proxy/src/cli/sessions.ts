// cli/sessions.ts — `drawbridge sessions list|revoke [--user U|--all] --config FILE`: acts on the
// configured store. Redis is reached directly; a memory store lives inside the running process, so
// the command asks that process through its admin listener (loopback by default).
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { deriveKeys } from '../session/keys.js';
import { RedisStore, redisTopology } from '../session/redis-store.js';
import { sessionSummary } from '../server/server.js';
import { askAdmin, type Command } from './io.js';

const USAGE = 'usage: drawbridge sessions list [--user U] --config FILE\n       drawbridge sessions revoke (--user U | --all) --config FILE\n';

export const sessions: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, user: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  const action = positionals[0];
  if ((action !== 'list' && action !== 'revoke') || !values.config) {
    io.stderr.write(USAGE);
    return 2;
  }
  if (action === 'revoke' && !values.user && !values.all) {
    io.stderr.write('sessions revoke: say whose sessions to end: --user U, or --all\n');
    return 2;
  }
  const loaded = loadConfigFile(values.config, io.env);
  if (!loaded.ok) {
    for (const e of loaded.errors) io.stderr.write(`${formatIssue(e)}\n`);
    return 1;
  }
  const config = loaded.config;
  const filter = values.user ? { user: values.user } : {};
  let rows: Record<string, unknown>[] = [];
  let revoked = 0;
  if (config.session.store.type === 'redis') {
    const store = new RedisStore({ ...redisTopology(config.session.store), keys: deriveKeys(config.session.secret) });
    try {
      await store.start();
      if (action === 'list') rows = (await store.list(filter)).map(sessionSummary);
      else revoked = await store.deleteWhere(filter);
    } finally {
      await store.close();
    }
  } else {
    const q = new URLSearchParams(values.user ? { user: values.user } : action === 'revoke' ? { all: '1' } : {});
    const body = await askAdmin(io, 'sessions', config.admin.listen, 'sessions', action === 'revoke', q);
    if (body === undefined) return 1;
    if (action === 'list') rows = body as Record<string, unknown>[];
    else revoked = (body as { revoked: number }).revoked;
  }
  if (action === 'revoke') {
    io.stdout.write(`${revoked} session${revoked === 1 ? '' : 's'} revoked\n`);
    return 0;
  }
  if (values.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(`${['SID'.padEnd(24), 'USER'.padEnd(20), 'EMAIL'.padEnd(28), 'LAST SEEN'.padEnd(26), 'EXPIRES'].join('')}\n`);
  for (const r of rows) {
    io.stdout.write(`${[String(r.sid).padEnd(24), String(r.user).padEnd(20), String(r.email ?? '-').padEnd(28), String(r.lastSeenAt).padEnd(26), String(r.expiresAt)].join('')}\n`);
  }
  io.stdout.write(`${rows.length} session${rows.length === 1 ? '' : 's'}\n`);
  return 0;
};
