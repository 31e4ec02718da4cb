// version.ts — the version of this Drawbridge: package.json's, found by walking up from this file (the source tree,
// dist/ in the image, or an installed package under node_modules).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** "0.1.0": the `version` of the package.json that declares the `drawbridge` bin. */
export function drawbridgeVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version?: string; bin?: Record<string, string> };
      if (pkg.bin?.drawbridge && pkg.version) return (cached = pkg.version);
    }
    const parent = dirname(dir);
    if (parent === dir) return (cached = 'unknown');
    dir = parent;
  }
}
