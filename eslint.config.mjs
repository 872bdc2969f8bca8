import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.synq/', '.synq-demo/', 'coverage/', 'test-artifacts/', '*.js', '*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // domain/ is what auditors replay: pure TypeScript, no I/O, no framework, no clock.
    files: ['domain/**/*.ts'],
    rules: {
      // node:crypto is allowed for its hashes only (deterministic); randomness, like time, comes in as an argument.
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['@nestjs/*', 'pg', '@solana/*', '@eventstore/*', 'fs', 'node:*', '!node:crypto'] }],
          paths: [{ name: 'node:crypto', importNames: ['randomUUID', 'randomBytes', 'randomInt', 'getRandomValues', 'generateKeyPairSync', 'webcrypto'] }],
        },
      ],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now' }],
    },
  },
);
