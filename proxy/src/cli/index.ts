// cli/index.ts — dispatches `drawbridge <command>` to one file per subcommand.
import { drawbridgeVersion } from '../version.js';
import type { CliIo, Command } from './io.js';

// The help texts are loaded only to be printed: `serve` never holds them.
const help = () => import('./help.js');

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serve,
  validate: async () => (await import('./validate.js')).validate,
  explain: async () => (await import('./explain.js')).explain,
  test: async () => (await import('./test.js')).test,
  doctor: async () => (await import('./doctor.js')).doctor,
  schema: async () => (await import('./schema.js')).schema,
  keygen: async () => (await import('./keygen.js')).keygen,
  sessions: async () => (await import('./sessions.js')).sessions,
  grants: async () => (await import('./grants.js')).grants,
};

/** The commands `drawbridge` knows (each has a hand-written help in help.ts; a test keeps the two in step). */
export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}

/** Runs one command line; returns the exit code (undefined while `serve` keeps running). */
export async function runCli(argv: string[], io: CliIo): Promise<number | undefined> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v' || first === 'version') {
    io.stdout.write(`drawbridge ${drawbridgeVersion()}\n`);
    return 0;
  }
  if (first === '--help' || first === '-h' || (first === 'help' && rest.length === 0)) {
    io.stdout.write((await help()).USAGE);
    return 0;
  }
  if (first === 'help') return printHelp(rest[0]!, io);
  const name = first === undefined || first.startsWith('-') ? 'serve' : first;
  const args = name === first ? rest : argv;
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`drawbridge: unknown command "${name}"\n\n${(await help()).USAGE}`);
    return 2;
  }
  // Help is answered before the command is even loaded: `keygen --help` makes no key, `serve --help` binds nothing.
  if (args.includes('--help') || args.includes('-h')) return printHelp(name, io);
  try {
    return await (await load())(args, io);
  } catch (e) {
    io.stderr.write(`drawbridge ${name}: ${(e as Error).message}\n`);
    // An unknown option or a missing option value is a usage error, like any other.
    return String((e as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_') ? 2 : 1;
  }
}

async function printHelp(name: string, io: CliIo): Promise<number> {
  const { HELP, USAGE } = await help();
  const text = HELP[name];
  if (text === undefined) {
    io.stderr.write(`drawbridge help: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  io.stdout.write(text);
  return 0;
}
