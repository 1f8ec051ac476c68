import { defineConfig } from 'vitest/config';
import { OTHER_DRIVER } from './core/kafka/driver.js';

// Four projects (the fourth, chaos, is described where it is defined): unit tests sit beside the
// code and need no servers; integration and e2e tests
// live in test/ and run against the real local stack (Kafka, Apicurio, Redis) on the default Kafka
// driver; and the Kafka-heavy integration tests run a second time on the other driver
// (BITPREDICT_KAFKA_CLIENT), so both drivers keep the same semantics. The split and its cost are in
// docs/benchmarks.md ("Kafka drivers").
const SECOND_DRIVER_TESTS = [
  'test/integration/consumer-runner.test.ts',
  'test/integration/dlq.test.ts',
  'test/integration/tail.test.ts',
  'test/integration/features-sigkill.test.ts',
  'test/integration/features-scale.test.ts',
  'test/integration/replay-resume.test.ts',
  'test/integration/consumer-lag-metrics.test.ts',
];
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
            'test/chaos/report.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/chaos/**', '**/node_modules/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: `integration-${OTHER_DRIVER}`,
          include: SECOND_DRIVER_TESTS,
          env: { BITPREDICT_KAFKA_CLIENT: OTHER_DRIVER },
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          // After the default driver's pass, never beside it: both use the one local broker.
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The chaos suite (docs/chaos.md): faults against the real stack, one table row per
        // scenario (test/chaos/report.ts). Under `npm test` each scenario runs at its CI scale;
        // `npm run test:chaos` runs them all at full scale (CHAOS_SCALE=full) and prints the table.
        test: {
          name: 'chaos',
          include: ['test/chaos/scenarios/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
