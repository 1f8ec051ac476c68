import { defineConfig } from 'vitest/config';
import { OTHER_DRIVER } from './core/kafka/driver.js';

// Three projects: unit tests sit beside the code and need no servers; integration and e2e tests
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
    ],
  },
});
