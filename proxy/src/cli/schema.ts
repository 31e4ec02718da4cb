// cli/schema.ts — `drawbridge schema`: prints the JSON Schema generated from the zod schema.
import { configJsonSchema } from '../config/schema.js';
import type { Command } from './io.js';

export const schema: Command = async (_args, io) => {
  io.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
};
