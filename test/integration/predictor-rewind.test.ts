// A partition the predictor reads again from an earlier offset (the runner gave it up for a Kafka
// outage and took it over again from the committed offset, or a rebalance brought it back): the
// runner's ensure hook restarts the partition, its series rebuild their windows and baselines from
// the Redis feature history, and the vectors read again give the same predictions as the first
// time, instead of being refused as out of order (and dead-lettered: the stack-restart chaos
// scenario lost 16 predictions that way). Real Kafka registry for the Avro, real Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../helpers/platform.js';
import type { InRecord } from '../../core/kafka/consumer.js';
import { createFeatureStoreWriter } from '../../core/feature-store.js';
import { createPredictorHandler } from '../../processors/predictor/service.js';
import type { FeatureVector } from '../../schemas/types.js';
import { bareFeature } from '../helpers/features.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const N = 80;
const feature = (i: number): FeatureVector =>
  bareFeature('1h', T0 + i * HOUR, { symbol: 'SOLUSDT', close: 100 * Math.exp(0.01 * Math.sin(i / 3)), logReturn1: 0.01 * Math.cos(i / 3) });

describe('predictor: a partition read again from an earlier offset', () => {
  let tp: TestPlatform;
  const ctx = { heartbeat: async (): Promise<void> => undefined };
  const now = (): number => T0 + 1000 * HOUR;
  beforeAll(async () => {
    tp = await createTestPlatform('pred-rewind');
  });
  afterAll(async () => {
    await tp?.cleanup();
  });

  it('predicts the vectors read again as the first time once the partition is restarted', async () => {
    const records: InRecord[] = Array.from({ length: N }, (_, i) => ({
      topic: tp.topic('features'),
      partition: 3,
      offset: String(i),
      key: Buffer.from('SOLUSDT:1h'),
      value: tp.platform.serde.encode('features', feature(i)),
      timestamp: T0 + i * HOUR,
      headers: {},
    }));
    // The feature processor writes the history before it commits a vector: the predictor reads it.
    const store = createFeatureStoreWriter(tp.redis, tp.config.redis.keyPrefix, { features: 1000, candles: 1000 });
    for (const r of records) store.add(feature(Number(r.offset)), r.value as Buffer);
    await store.flush();

    const h = createPredictorHandler({ platform: tp.platform, config: tp.config, redis: tp.redis, now });
    const first: string[] = [];
    for (const r of records) {
      const out = (await h.handler(r, ctx)) ?? [];
      if (Number(r.offset) >= 50) first.push(...out.map((o) => (o.value as Buffer).toString('base64')));
    }
    expect(first.length).toBeGreaterThan(0);

    // Without a restart the series has moved past these vectors: refused, as before the fix.
    await expect(h.handler(records[50]!, ctx)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });

    h.restartPartition(3);
    const again: string[] = [];
    for (const r of records.slice(50)) again.push(...((await h.handler(r, ctx)) ?? []).map((o) => (o.value as Buffer).toString('base64')));
    expect(again).toEqual(first);
  });
});
