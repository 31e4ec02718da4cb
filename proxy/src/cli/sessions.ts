// cli/sessions.ts — `drawbridge sessions list|revoke [--user U|--all] --config FILE`.
import type { Command } from './io.js';

export const sessions: Command = async (_args, io) => {
  io.stderr.write('drawbridge sessions: not built yet\n');
  return 1;
};
