// Lint rules that carry the house style: no floating promises, and domain/ code stays pure
// (no Kafka, Redis, HTTP, fs or ML imports) so it can be tested and reused without I/O.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import floors from './lint/floors.js';

const ioModules = [
  'kafkajs',
  'ioredis',
  'fastify',
  '@fastify/*',
  'ws',
  'prom-client',
  'pino',
  '@kafkajs/*',
  '@platformatic/*',
  '@tensorflow/*',
  '@xenova/*',
  '@huggingface/*',
  'node:fs',
  'node:fs/*',
  'fs',
  'fs/*',
  'node:http',
  'node:https',
  'node:net',
  'http',
  'https',
  'net',
  'node:child_process',
  'child_process',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.stack/**', 'gateway/public/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'lint/floors.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-console': 'error',
      // Factories return closures, not classes: methods never use `this`.
      '@typescript-eslint/unbound-method': 'off',
      // Async functions that satisfy a Promise-returning interface without awaiting are fine.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The floor plan (docs/architecture.md): services side by side on core/ and schemas/.
    files: ['**/*.ts'],
    plugins: { floors },
    rules: { 'floors/no-cross-floor': 'error', 'floors/no-cycle': 'error' },
  },
  {
    // domain/ folders, and the shared libraries that research and live services both run.
    files: ['**/domain/**/*.ts', 'core/features/**/*.ts', 'core/text/**/*.ts', 'core/data/candles/**/*.ts', 'core/data/text/**/*.ts'],
    // Tests beside domain code may read fixtures from disk; the rule guards the code they test.
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ioModules,
              message:
                'domain/ code and the pure shared libraries (core/features, core/text, core/data parsers) import no I/O (Kafka, Redis, HTTP, fs, ML). Pass data in.',
            },
          ],
        },
      ],
    },
  },
  {
    // Benchmarks and tests talk to people on the terminal. cli/ does too, but through one writer
    // (cli/output.ts) that commands get in their context, so console stays off there.
    files: ['bench/**/*.ts', 'test/**/*.ts', '**/*.test.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['eslint.config.js', 'lint/floors.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
