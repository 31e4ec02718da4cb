// cli/grants.ts — `drawbridge grants list|revoke [--id ID|--user U|--all] --config FILE`: the active access grants
// (docs/access-requests.md) in the configured store. Redis is reached directly; a memory store lives inside the
// running process, so the command asks that process through its admin listener (as `sessions` does).
import { parseArgs } from 'node:util';
import { AccessRecords, type AccessGrantRecord, type GrantFilter } from '../access/access.js';
import { loadConfigFile } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { deriveKeys } from '../session/keys.js';
import { RedisStore } from '../session/redis-store.js';
import { askAdmin, type Command } from './io.js';

const USAGE = 'usage: drawbridge grants list [--user U] [--json] --config FILE\n       drawbridge grants revoke (--id ID | --user U | --all) --config FILE\n';

export const grants: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, id: { type: 'string' }, user: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  const action = positionals[0];
  if ((action !== 'list' && action !== 'revoke') || !values.config) {
    io.stderr.write(USAGE);
    return 2;
  }
  if (action === 'revoke' && !values.id && !values.user && !values.all) {
    io.stderr.write('grants revoke: say which grants to end: --id ID, --user U, or --all\n');
    return 2;
  }
  const loaded = loadConfigFile(values.config, io.env);
  if (!loaded.ok) {
    for (const e of loaded.errors) io.stderr.write(`${formatIssue(e)}\n`);
    return 1;
  }
  const config = loaded.config;
  const filter: GrantFilter = { id: values.id, user: values.user };
  let rows: AccessGrantRecord[];
  if (config.session.store.type === 'redis') {
    const store = new RedisStore({ url: config.session.store.url, prefix: config.session.store.prefix, keys: deriveKeys(config.session.secret) });
    // The revocation is an audit event like any other: logged on this command's stderr.
    const line = (level: string) => (fields: Record<string, unknown>) => void io.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, ...fields })}\n`);
    const logger = { info: line('info'), warn: line('warn') };
    const records = new AccessRecords({ store, logger, metrics: { access() {} }, now: Date.now, requestsUrl: () => `${new URL(config.publicUrl).origin}/.drawbridge/requests` });
    try {
      await store.start();
      rows = action === 'list' ? await records.grants(filter) : await records.revoke(filter, 'cli');
    } catch (e) {
      io.stderr.write(`grants: ${(e as Error).message}\n`);
      return 1;
    } finally {
      await store.close();
    }
  } else {
    const q = new URLSearchParams();
    if (values.id) q.set('id', values.id);
    if (values.user) q.set('user', values.user);
    if (action === 'revoke' && values.all) q.set('all', '1');
    const body = await askAdmin(io, 'grants', config.admin.listen, 'grants', action === 'revoke', q);
    if (body === undefined) return 1;
    rows = action === 'list' ? (body as AccessGrantRecord[]) : (body as { grants: AccessGrantRecord[] }).grants;
  }
  if (action === 'revoke') {
    io.stdout.write(`${rows.length} grant${rows.length === 1 ? '' : 's'} revoked\n`);
    return 0;
  }
  if (values.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(`${['ID'.padEnd(38), 'USER'.padEnd(16), 'ROUTE'.padEnd(20), 'APPROVER'.padEnd(16), 'EXPIRES'].join('')}\n`);
  for (const g of rows) io.stdout.write(`${[g.id.padEnd(38), g.user.padEnd(16), g.route.padEnd(20), g.approver.padEnd(16), new Date(g.expiresAt).toISOString()].join('')}\n`);
  io.stdout.write(`${rows.length} grant${rows.length === 1 ? '' : 's'}\n`);
  return 0;
};
