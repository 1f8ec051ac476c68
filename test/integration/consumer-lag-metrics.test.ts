// The lag gauge follows partition ownership on a real group: when a second member joins and takes
// some partitions, the first member's registry no longer reports them (a stale, low value there
// would mask the new owner's lag); when a member stops, its registry reports none.
import { describe, expect, it } from 'vitest';
import { createTestPlatform, uniqueId, waitFor } from '../helpers/platform.js';
import { createConsumerRunner, type ConsumerRunner } from '../../core/kafka/consumer.js';
import { createDeadLetterFactory } from '../../core/kafka/dlq.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import type { TestPlatform } from '../helpers/platform.js';

async function lagPartitions(registry: Registry): Promise<string[]> {
  const metric = registry.getSingleMetric('bitpredict_consumer_lag_records');
  if (!metric) return [];
  return (await metric.get()).values.map((v) => String(v.labels.partition)).sort();
}

function member(tp: TestPlatform, groupId: string, input: string, producer: Producer, registry: Registry): ConsumerRunner {
  return createConsumerRunner({
    client: tp.platform.kafka,
    groupId,
    topics: [input],
    handler: async () => [],
    deadLetter: createDeadLetterFactory({ serde: tp.platform.serde, topicPrefix: tp.prefix }),
    delivery: { kind: 'at-least-once', producer },
    logger: tp.logger,
    registry,
    maxAttempts: 1,
    retryBackoffMs: 5,
    sessionTimeoutMs: 6000,
    onFatal: (e) => {
      throw e;
    },
  });
}

describe('consumer lag gauge across a rebalance', () => {
  it('drops the series of partitions that moved to another member, and all of a member’s series when it stops', async () => {
    const tp = await createTestPlatform('lag-metrics', { BITPREDICT_TOPIC_PARTITIONS: '4' });
    const producer = await createProducer(tp.platform.kafka);
    const input = tp.topic('textRaw');
    const groupId = uniqueId('lag-metrics');
    const regA = createMetricsRegistry({ service: 'a', defaultMetrics: false });
    const regB = createMetricsRegistry({ service: 'b', defaultMetrics: false });
    const send = (n: number): Promise<void> =>
      producer.send(Array.from({ length: n }, (_, i) => ({ topic: input, key: `k${i}`, value: Buffer.from(String(i)) })));
    const a = member(tp, groupId, input, producer, regA);
    const b = member(tp, groupId, input, producer, regB);
    try {
      await a.start();
      await send(40);
      await waitFor(async () => (await lagPartitions(regA)).length === 4, 'member a to report lag for all 4 partitions');

      await b.start();
      await waitFor(() => a.assignedPartitions > 0 && b.assignedPartitions > 0 && a.assignedPartitions + b.assignedPartitions === 4, 'the group to split');
      await send(40);
      await waitFor(async () => (await lagPartitions(regB)).length === b.assignedPartitions, 'member b to report lag for its partitions');
      const [ofA, ofB] = [await lagPartitions(regA), await lagPartitions(regB)];
      // Each partition is reported by its owner only.
      expect(ofA.length).toBeLessThanOrEqual(a.assignedPartitions);
      expect(ofA.filter((p) => ofB.includes(p))).toEqual([]);

      await b.stop();
      expect(await lagPartitions(regB)).toEqual([]);
      await waitFor(() => a.assignedPartitions === 4, 'member a to take every partition back');
      await send(40);
      await waitFor(async () => (await lagPartitions(regA)).length === 4, 'member a to report all 4 partitions again');
    } finally {
      await b.stop().catch(() => undefined);
      await a.stop();
      await producer.close();
    }
    expect(await lagPartitions(regA)).toEqual([]);
    await tp.cleanup();
  });
});
