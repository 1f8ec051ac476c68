import { defineConfig } from 'vitest/config';

// Two projects: unit tests sit beside the code and need no servers; integration and e2e tests
// live in test/ and run against the real local stack (Kafka, Apicurio, Redis).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'core/**/*.test.ts',
            'schemas/**/*.test.ts',
            'producers/**/*.test.ts',
            'processors/**/*.test.ts',
            'trainer/**/*.test.ts',
            'gateway/**/*.test.ts',
            'cli/**/*.test.ts',
            'deployment/**/*.test.ts',
            'bench/**/*.test.ts',
            'lint/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
