// Bad input on the candles topic: bytes that are not Avro, truncated Avro, and records that decode
// but break domain rules each become a DLQ record with the original bytes and a reason code, and
// the partition keeps moving (the valid candle after them is still processed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../helpers/platform.js';
import { candle, HOUR_MS } from '../helpers/candles.js';
import { createFeatureProcessor } from '../../processors/features/service.js';
import { createProducer } from '../../core/kafka/producer.js';
import type { Service } from '../../core/service.js';

describe('indicator processor dead-letters bad records and keeps the partition moving', () => {
  let tp: TestPlatform;
  let proc: Service;
  const fatal: unknown[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('dlq');
    proc = await createFeatureProcessor({ platform: tp.platform, config: tp.config, redis: tp.redis, onFatal: (e) => fatal.push(e) });
    await proc.start();
  });

  afterAll(async () => {
    await proc?.stop();
    await tp?.cleanup();
  });

  it('sends undecodable and invalid records to the DLQ with their original bytes', async () => {
    const { serde } = tp.platform;
    const producer = await createProducer(tp.platform.kafka);
    const t0 = Date.UTC(2024, 0, 1, 0);
    const topic = tp.topic('candles');
    const key = 'BTCUSDT:1h';
    const good1 = serde.encode('candles', candle(t0));
    const notAvro = Buffer.from('this is not avro at all');
    const truncated = serde.encode('candles', candle(t0 + HOUR_MS)).subarray(0, 12);
    const highBelowLow = serde.encode('candles', candle(t0 + HOUR_MS, 30_000, { high: 29_000, low: 29_500 }));
    const negative = serde.encode('candles', candle(t0 + HOUR_MS, 30_000, { open: -5 }));
    const futureOpen = Math.floor((Date.now() + 3 * 24 * HOUR_MS) / HOUR_MS) * HOUR_MS;
    const future = serde.encode('candles', candle(futureOpen));
    const good2 = serde.encode('candles', candle(t0 + HOUR_MS));
    const now = Date.now();
    const bad = [notAvro, truncated, highBelowLow, negative, future];
    await producer.send([good1, ...bad, good2].map((value) => ({ topic, key, value, timestamp: now })));
    await producer.close();

    await waitFor(
      async () => (await tp.admin.groupLag(`${tp.config.kafka.clientId}-features`, topic)).every((p) => (p.lag === 0 && p.committed !== '-1') || p.end === '0'),
      'the processor to commit past every record',
    );
    const features = await tp.readAll('features');
    expect(features.map((f) => f.value?.openTime)).toEqual([t0, t0 + HOUR_MS]);
    const dlq = await tp.readAll('dlq');
    expect(dlq).toHaveLength(5);
    const byBytes = (b: Buffer) => dlq.find((d) => d.value?.value?.equals(b));
    expect(byBytes(notAvro)?.value?.errorCode).toBe('ERR_SERDE_DECODE');
    expect(byBytes(truncated)?.value?.errorCode).toBe('ERR_SERDE_DECODE');
    expect(byBytes(highBelowLow)?.value?.errorCode).toBe('ERR_VALIDATION');
    expect(byBytes(highBelowLow)?.value?.errorMessage).toMatch(/high/);
    expect(byBytes(negative)?.value?.errorCode).toBe('ERR_VALIDATION');
    expect(byBytes(future)?.value?.errorCode).toBe('ERR_VALIDATION');
    expect(byBytes(future)?.value?.errorMessage).toMatch(/future/);
    for (const d of dlq) {
      expect(d.key).toBe(topic);
      expect(d.value?.source).toBe(topic);
      expect(d.value?.sourceKind).toBe('topic');
      expect(d.value?.key?.toString()).toBe(key);
      expect(d.value?.consumerGroup).toBe(`${tp.config.kafka.clientId}-features`);
    }
    expect(fatal).toEqual([]);
  });
});
