// cli/index.ts — dispatches `drawbridge <command>` to one file per subcommand.
import type { CliIo, Command } from './io.js';

const USAGE = `Usage: drawbridge <command> [options]

Commands:
  serve [--config FILE]          run the proxy (default; FILE defaults to config/drawbridge.yaml)
  validate FILE                  check a configuration; every error as FILE:LINE:COL: message
  explain FILE --url URL [...]   show the matched route, the decision and every rule's reason
  test FILE TESTS.yaml           run policy unit tests; prints "N passed, N failed"
  doctor --config FILE           check the IdP as configured (discovery, keys, client credentials,
                                 redirect URIs); prints what to fix; exit 1 on any problem
  schema                         print the JSON Schema of the configuration
  keygen                         print a new ES256 signing key (PEM) and a random session secret
  sessions list|revoke [--user U|--all] --config FILE
                                 list or end sessions in the configured store
`;

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serve,
  validate: async () => (await import('./validate.js')).validate,
  explain: async () => (await import('./explain.js')).explain,
  test: async () => (await import('./test.js')).test,
  doctor: async () => (await import('./doctor.js')).doctor,
  schema: async () => (await import('./schema.js')).schema,
  keygen: async () => (await import('./keygen.js')).keygen,
  sessions: async () => (await import('./sessions.js')).sessions,
};

/** Runs one command line; returns the exit code (undefined while `serve` keeps running). */
export async function runCli(argv: string[], io: CliIo): Promise<number | undefined> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  const name = first === undefined || first.startsWith('-') ? 'serve' : first;
  const args = name === first ? rest : argv;
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`drawbridge: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (await load())(args, io);
  } catch (e) {
    io.stderr.write(`drawbridge ${name}: ${(e as Error).message}\n`);
    return 1;
  }
}
