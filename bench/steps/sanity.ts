// bench/steps/sanity.ts — before measuring, one request through every row: it must reach the upstream as the
// expected user, with the assertion and without the session cookie; a row that fails is invalid, with the reason.
import http from 'node:http';
import { log, type RowPlan } from './common.js';

/** One GET through a row, returning status and body (the sanity check before measuring). */
function probe(port: number, host: string, headers: Record<string, string>, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { ...headers, host }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function sanity(row: RowPlan, cookieName: string): Promise<string | undefined> {
  try {
    const r = await probe(row.port, row.host, row.headers, '/__whoami');
    if (r.status !== 200) return `sanity request answered ${r.status}: ${r.body.slice(0, 120)}`;
    const seen = JSON.parse(r.body) as { user: string | null; assertion: boolean; cookie: string | null };
    if (seen.user !== row.expectUser) return `upstream saw user ${JSON.stringify(seen.user)}, expected ${JSON.stringify(row.expectUser)}`;
    if (row.expectUser !== null && row.expectAssertion !== false && !seen.assertion) return 'upstream got no assertion header';
    if (seen.cookie?.includes(`${row.cookieName ?? cookieName}=`)) return 'the session cookie reached the upstream';
    const plain = await probe(row.port, row.host, row.headers, '/');
    if (plain.status !== 200) return `sanity request answered ${plain.status}`;
    for (const s of row.sample ?? []) {
      const r = await probe(row.port, s.hostname, s.cookie !== undefined ? { ...row.headers, cookie: s.cookie } : row.headers, s.path);
      if (r.status !== 200) return `sanity request to ${s.hostname}${s.path} answered ${r.status}: ${r.body.slice(0, 120)}`;
    }
    return undefined;
  } catch (e) {
    return `sanity request failed: ${(e as Error).message}`;
  }
}

/** Checks every row not skipped; a failing one gets `invalid` and its Drawbridge's last warnings are logged. */
export async function checkRows(plans: readonly RowPlan[], cookieName: string): Promise<void> {
  for (const p of plans) {
    // Skipped rows did not run; a row already invalid (it failed to start) keeps the reason it has.
    if (p.skipped || p.invalid) continue;
    const problem = await sanity(p, cookieName);
    if (problem) {
      p.invalid = problem;
      log(`${p.name}: ${problem}`);
      const logs = await p.drawbridge?.ask<{ lines: string[] }>({ type: 'logs' }, 'logs', 5000).catch(() => undefined);
      for (const line of logs?.lines.filter((l) => /"level":"(error|warn)"/.test(l)).slice(-3) ?? []) log(`  ${p.name} log: ${line.slice(0, 600)}`);
    }
  }
}
