// `bitpredict topics list` against the real broker: this environment's topics with their
// partitions, first and end offsets, records, and the lag of the shared groups that read them
// (core/kafka/topics.ts SHARED_CONSUMERS), both through topicRows and as the CLI prints it.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, REPO_ROOT, waitFor, type TestPlatform } from '../helpers/platform.js';
import { createProducer } from '../../core/kafka/producer.js';
import { createConsumerRunner } from '../../core/kafka/consumer.js';
import { createDelivery } from '../../core/kafka/delivery.js';
import { topicRows } from '../../cli/services.js';
import { createMetricsRegistry } from '../../core/metrics.js';

describe('topics list', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await createTestPlatform('topics-list');
  });
  afterAll(async () => {
    await tp?.cleanup();
  });

  const send = async (n: number, from: number): Promise<void> => {
    const producer = await createProducer(tp.platform.kafka);
    await producer.send(Array.from({ length: n }, (_, i) => ({ topic: tp.topic('candles'), key: `K${(from + i) % 3}`, value: Buffer.from(String(from + i)) })));
    await producer.close();
  };

  it("shows partitions, offsets, records, and the features group's lag on market.candles", async () => {
    await send(5, 0);
    const before = (await topicRows(tp.admin, tp.platform.kafka)).find((r) => r.topic === tp.topic('candles'));
    expect(before).toMatchObject({ firstOffset: 0, endOffset: 5, records: 5, groups: [{ group: 'features', lag: null }] });
    expect(before?.partitions).toBeGreaterThan(0);
    // Every row is this environment's, and every logical topic is there.
    const rows = await topicRows(tp.admin, tp.platform.kafka);
    expect(rows.every((r) => r.topic.startsWith(tp.prefix))).toBe(true);
    expect(rows.find((r) => r.topic === tp.topic('features'))?.groups.map((g) => g.group)).toEqual(['predictor', 'trainer-monitor']);

    // The features group reads and commits the five, then five more arrive: lag 5.
    let seen = 0;
    const delivery = await createDelivery(tp.platform.kafka, 'at-least-once', 'unused');
    const runner = createConsumerRunner({
      client: tp.platform.kafka,
      logger: tp.logger,
      registry: createMetricsRegistry({ service: 'topics-list-test', defaultMetrics: false }),
      groupId: tp.platform.kafka.groupId('features'),
      topics: [tp.topic('candles')],
      fromBeginning: true,
      handler: async () => {
        seen++;
        return [];
      },
      delivery: delivery.mode,
      deadLetter: async () => {
        throw new Error('nothing is dead-lettered here');
      },
      maxAttempts: 1,
      retryBackoffMs: 10,
      commitIntervalMs: 100,
      onFatal: (err) => {
        throw err;
      },
    });
    await runner.start();
    await waitFor(() => seen >= 5, 'the group to read the five', 30_000);
    await runner.stop();
    await delivery.close();
    await send(5, 5);
    const after = (await topicRows(tp.admin, tp.platform.kafka)).find((r) => r.topic === tp.topic('candles'));
    expect(after).toMatchObject({ endOffset: 10, records: 10, groups: [{ group: 'features', lag: 5 }] });

    // The CLI prints the same, as a table and as JSON.
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BITPREDICT_')) as [string, string][]),
      BITPREDICT_TOPIC_PREFIX: tp.prefix,
      // The shared groups are named after the client id (`<client id>-features`), as the services name them.
      BITPREDICT_KAFKA_CLIENT_ID: tp.config.kafka.clientId,
    };
    const json = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'topics', 'list', '--json'], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(json.status, json.stderr).toBe(0);
    const printed = (JSON.parse(json.stdout) as { topics: { topic: string; records: number; groups: unknown[] }[] }).topics.find(
      (r) => r.topic === tp.topic('candles'),
    );
    expect(printed).toMatchObject({ records: 10, groups: [{ group: 'features', lag: 5 }] });
    const table = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'topics', 'list'], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 60_000 });
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^topic\s+partitions\s+first offset\s+end offset\s+records\s+groups \(lag\)$/);
    const row = table.stdout.split('\n').find((l) => l.startsWith(`${tp.topic('candles')} `));
    expect(row?.split(/\s{2,}/)).toEqual([tp.topic('candles'), String(before?.partitions), '0', '10', '10', 'features 5']);
  });
});
