// proxy/test/build-output.test.ts — what the production build (tsconfig.build.json, `npm run build`, the Docker
// image's dist/) emits: code without comments. V8 keeps every loaded module's source text for the life of the
// process; comments (and their non-Latin-1 characters, which make V8 store a whole file's text at two bytes a
// character) would stay resident in every worker (docs/deploy.md, "Memory").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The compiler options `npm run build` uses (tsconfig.build.json and what it extends). */
function buildOptions(): ts.CompilerOptions {
  const file = join(ROOT, 'tsconfig.build.json');
  const { config, error } = ts.readConfigFile(file, ts.sys.readFile);
  assert.equal(error, undefined);
  return ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, file).options;
}

test('the production build emits modules without comments, so their source text held by V8 is code only', () => {
  const options = buildOptions();
  assert.equal(options.removeComments, true, 'tsconfig.build.json: removeComments');
  const path = join(ROOT, 'proxy/src/server/node-flags.ts');
  const source = readFileSync(path, 'utf8');
  assert.match(source, /^\/\/ server\/node-flags\.ts — /, 'the source opens with its comment');
  const { outputText } = ts.transpileModule(source, { compilerOptions: options, fileName: path });
  assert.doesNotMatch(outputText, /\/\/ server\/node-flags|\/\*\*/, 'no line or doc comment in the emitted code');
  const nonAscii = [...outputText].filter((c) => c.charCodeAt(0) > 0x7f);
  assert.deepEqual(nonAscii, [], 'no em dash or other non-ASCII character left from the comments');
  assert.match(outputText, /NODE_FLAGS = \['--max-semi-space-size=/, 'the code itself is emitted');
});
