// cli/io.ts — what a subcommand may touch: its output streams and the environment (injectable for tests).

export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
}

/** A subcommand: returns the exit code, or undefined when it keeps running (serve). */
export type Command = (args: string[], io: CliIo) => Promise<number | undefined>;

/**
 * `drawbridge sessions|grants` with the memory store: asks the running Drawbridge's admin listener
 * (`GET /<resource>` to list, `POST /<resource>/revoke` to revoke). Resolves with its JSON answer, or undefined after
 * writing why to stderr (no answer, or an error answer).
 */
export async function askAdmin(io: CliIo, command: string, adminListen: string, resource: string, revoke: boolean, query: URLSearchParams): Promise<unknown> {
  const admin = adminListen.replace(/^:/, '127.0.0.1:').replace(/^0\.0\.0\.0:/, '127.0.0.1:');
  const url = `http://${admin}/${resource}${revoke ? '/revoke' : ''}${query.size > 0 ? `?${query}` : ''}`;
  let res: Response;
  try {
    res = await fetch(url, { method: revoke ? 'POST' : 'GET', headers: revoke ? { 'x-drawbridge-admin': 'revoke' } : {}, signal: AbortSignal.timeout(5000) });
  } catch (e) {
    io.stderr.write(`${command}: the memory store lives in the running Drawbridge; its admin listener ${url} did not answer (${(e as Error).message})\n`);
    return undefined;
  }
  const body = (await res.json()) as unknown;
  if (!res.ok) {
    io.stderr.write(`${command}: ${JSON.stringify(body)}\n`);
    return undefined;
  }
  return body;
}
