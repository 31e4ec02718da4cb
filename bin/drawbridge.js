#!/usr/bin/env node
// bin/drawbridge.js — the `drawbridge` command. Runs the compiled build when present (the Docker
// image), otherwise the TypeScript source through tsx (a clone after `npm ci`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = fileURLToPath(new URL('../dist/proxy/src/main.js', import.meta.url));
if (existsSync(built) && process.env.DRAWBRIDGE_FROM_SOURCE !== '1') {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../proxy/src/main.ts', import.meta.url).href);
}
