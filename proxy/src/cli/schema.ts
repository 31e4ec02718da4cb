// cli/schema.ts — `drawbridge schema [--tests]`: prints the JSON Schema generated from the zod schema of the
// configuration, or of a policy tests file.
import { configJsonSchema } from '../schema/config.js';
import type { Command } from './io.js';
import { testsJsonSchema } from './test.js';

export const schema: Command = async (args, io) => {
  const unknown = args.find((a) => a !== '--tests');
  if (unknown !== undefined) {
    io.stderr.write(`schema: unknown argument "${unknown}"\nusage: drawbridge schema [--tests]\n`);
    return 2;
  }
  io.stdout.write(`${JSON.stringify(args.includes('--tests') ? testsJsonSchema() : configJsonSchema(), null, 2)}\n`);
  return 0;
};
