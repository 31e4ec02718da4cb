// main.ts — the bin entry: argv → one subcommand in cli/. The only place that calls process.exit.
import { runCli } from './cli/index.js';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
if (code !== undefined) process.exitCode = code;
