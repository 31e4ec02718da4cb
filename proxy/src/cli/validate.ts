// cli/validate.ts — `drawbridge validate FILE`: exit 0, or 1 with every error as FILE:LINE:COL: message.
// The TLS files it names are read and checked (tls/check.ts). A missing ${NAME} or TLS file is a warning here (the
// file may be checked away from its environment and machine) unless --strict-env.
import { loadConfigFile } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { checkTlsFiles } from '../tls/check.js';
import type { Command } from './io.js';

export const validate: Command = async (args, io) => {
  const files = args.filter((a) => !a.startsWith('-'));
  const strictEnv = args.includes('--strict-env');
  if (files.length === 0) {
    io.stderr.write('usage: drawbridge validate [--strict-env] FILE...\n');
    return 2;
  }
  let failed = false;
  for (const file of files) {
    const result = loadConfigFile(file, io.env, { missingEnv: strictEnv ? 'error' : 'warn', fileChecks: (c) => checkTlsFiles(c, Date.now(), { missingFiles: strictEnv ? 'error' : 'warn' }) });
    if (result.ok) {
      for (const w of result.warnings) io.stderr.write(`${formatIssue(w)}\n`);
      io.stdout.write(`${file}: OK (${result.config.routes.length} route${result.config.routes.length === 1 ? '' : 's'})\n`);
    } else {
      failed = true;
      for (const e of result.errors) io.stderr.write(`${formatIssue(e)}\n`);
      const count = result.errors.filter((e) => !e.message.startsWith('warning:')).length;
      io.stderr.write(`${file}: ${count} error${count === 1 ? '' : 's'}\n`);
    }
  }
  return failed ? 1 : 0;
};
