// Scale-out by consumer group: feature processors in one group split the partitions of
// market.candles; adding an instance and removing another while candles are flowing (exactly-once
// mode) loses nothing and duplicates nothing, and every vector equals the vector of an
// uninterrupted run, because each partition's state moves with it (Redis snapshot + topic).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../helpers/platform.js';
import { candle, HOUR_MS } from '../helpers/candles.js';
import { featureKey, referenceIndicators, compareWithReference } from '../helpers/features.js';
import { createFeatureProcessor } from '../../processors/features/service.js';
import { createProducer } from '../../core/kafka/producer.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas } from '../../core/runtime.js';
import type { Service } from '../../core/service.js';
import type { Candle } from '../../schemas/types.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'ADAUSDT'];
const PER_SYMBOL = 2000;
const T0 = Date.UTC(2023, 0, 1);

describe('feature processors scale out in one consumer group', () => {
  let tp: TestPlatform;
  const fatal: unknown[] = [];
  const instances: { service: Service; registry: ReturnType<typeof createMetricsRegistry> }[] = [];

  async function addInstance(name: string): Promise<{ service: Service; registry: ReturnType<typeof createMetricsRegistry> }> {
    const registry = createMetricsRegistry({ service: name, defaultMetrics: false });
    const platform = createPlatform({ config: tp.config, logger: tp.logger.child({ instance: name }), registry, clientId: name });
    await prepareTopicsAndSchemas(platform, tp.config.kafka);
    const service = await createFeatureProcessor({ platform, config: tp.config, redis: tp.redis, groupId: 'scale-group', onFatal: (e) => fatal.push(e) });
    await service.start();
    const inst = { service, registry };
    instances.push(inst);
    return inst;
  }

  const produced = async (r: ReturnType<typeof createMetricsRegistry>): Promise<number> =>
    (await r.getSingleMetric('bitpredict_features_total')?.get())?.values[0]?.value ?? 0;

  beforeAll(async () => {
    tp = await createTestPlatform('fscale', {
      BITPREDICT_PROCESSING_GUARANTEE: 'exactly-once',
      BITPREDICT_TOPIC_PARTITIONS: '4',
      BITPREDICT_STATE_SNAPSHOT_INTERVAL_MS: '200',
    });
  });

  afterAll(async () => {
    for (const i of instances) await i.service.stop();
    await tp?.cleanup();
  });

  it('splits partitions, and an instance joining and one leaving mid-stream lose and duplicate nothing', async () => {
    const a = await addInstance('fscale-a');
    await waitFor(() => a.service.readiness().ready, 'instance A to join');
    const producer = await createProducer(tp.platform.kafka);
    const all: Candle[] = [];
    for (let k = 0; k < PER_SYMBOL; k++) {
      SYMBOLS.forEach((symbol, i) => {
        const base = 100 * (i + 1) * (1 + 0.05 * Math.sin(k / 7 + i));
        all.push(candle(T0 + k * HOUR_MS, base, { symbol, close: base * (1 + 0.01 * Math.cos(k / 3 + i)), volume: 10 + ((k * 7 + i) % 13) }));
      });
    }
    const sendPaced = async (candles: Candle[]): Promise<void> => {
      for (let i = 0; i < candles.length; i += 120) {
        const chunk = candles.slice(i, i + 120);
        await producer.send(
          chunk.map((c) => ({
            topic: tp.topic('candles'),
            key: `${c.symbol}:${c.interval}`,
            value: tp.platform.serde.encode('candles', c),
            timestamp: c.closeTime,
          })),
        );
        await new Promise((r) => setTimeout(r, 60));
      }
    };
    // Two thirds while B joins and A leaves; the rest once A has left, so that every partition in
    // use has records after the takeover however fast the first part went (B restores state lazily,
    // on a partition's first batch).
    const split = Math.floor((all.length * 2) / 3);
    const send = sendPaced(all.slice(0, split));
    await new Promise((r) => setTimeout(r, 1200));
    const b = await addInstance('fscale-b');
    await waitFor(() => b.service.readiness().ready, 'instance B to join');
    await new Promise((r) => setTimeout(r, 1500));
    // A leaves while records are still arriving; B takes over all partitions. A stop that hangs
    // fails here by name rather than as the test's timeout.
    await Promise.race([
      a.service.stop(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('instance A did not stop within 60 s')), 60_000).unref()),
    ]);
    await send;
    await sendPaced(all.slice(split));
    await producer.close();
    let lag: { partition: number; committed: string; end: string; lag: number }[] = [];
    await waitFor(
      async () => {
        lag = await tp.admin.groupLag('scale-group', tp.topic('candles'));
        return lag.every((p) => p.lag === 0);
      },
      'the group to catch up',
      90_000,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; lag by partition: ${JSON.stringify(lag)}; fatal: ${fatal.map(String).join(', ') || 'none'}`);
    });
    const used = (await tp.admin.endOffsets(tp.topic('candles'))).filter((p) => p.offset !== '0');
    expect(used.length).toBeGreaterThan(1);
    expect(await produced(a.registry)).toBeGreaterThan(0);
    expect(await produced(b.registry)).toBeGreaterThan(0);
    // B restored the state of every partition in use (its own from the start, then A's on takeover).
    const restores = (await b.registry.getSingleMetric('bitpredict_state_restores_total')?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0;
    expect(restores).toBeGreaterThanOrEqual(used.length);

    const candles = (await tp.readAll('candles')).map((r) => r.value as Candle);
    const ref = referenceIndicators(candles);
    const features = await tp.readAll('features');
    const keys = features.map((f) => (f.value ? featureKey(f.value) : 'undecodable'));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(all.length);
    const problems: string[] = [];
    for (const f of features) {
      const v = f.value;
      const r = v ? ref.get(featureKey(v)) : undefined;
      if (!v || !r) problems.push(`unexpected ${f.offset}`);
      else problems.push(...compareWithReference(v, r, [], tp.config.features.sentimentWindowMs));
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(fatal).toEqual([]);
    // Joins, a leave and a 90 s catch-up bound under a loaded CI machine: each wait above fails by
    // name first, the test's own timeout only if none does.
  }, 240_000);
});
