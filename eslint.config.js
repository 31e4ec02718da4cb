// ESLint flat config: typescript-eslint's recommended rules, plus the dependency
// direction of STYLE.md (the pure core never imports the I/O shell's libraries).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const SHELL_ONLY = ['express', 'helmet', 'http-proxy-3', 'undici', 'openid-client', 'winston', 'prom-client', 'redis', 'node:http', 'node:https', 'http', 'https', 'node:net', 'net'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly', performance: 'readonly', crypto: 'readonly', Response: 'readonly', Request: 'readonly', Headers: 'readonly', URLSearchParams: 'readonly', WebSocket: 'readonly', document: 'readonly', window: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['proxy/src/config/**/*.ts', 'proxy/src/routes/**/*.ts', 'proxy/src/policy/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: SHELL_ONLY.map((name) => ({ name, message: 'config/, routes/ and policy/ are the pure core: no I/O libraries (STYLE.md rule 3).' })) }],
    },
  },
);
