// Flood: ten times the normal rate into market.candles and text.raw while the feature processor
// and the sentiment processor run as real processes. "Normal" is the paced load of the project's
// end-to-end bench (docs/benchmarks.md): 100 candles/s, here with 20 text items/s beside them;
// the flood sends 1,000 candles/s over 20 symbols and 200 text items/s for 60 s (15 s at CI scale).
// The consumer lag rises and drains, each processor's RSS (sampled from /proc) stays under a stated
// bound, and every candle yields exactly one feature vector and every text item exactly one scored
// item (read_committed), with nothing dead-lettered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../../helpers/platform.js';
import { candle, HOUR_MS } from '../../helpers/candles.js';
import { createProducer, type Producer } from '../../../core/kafka/producer.js';
import { seriesKey } from '../../../schemas/keys.js';
import type { TextItem } from '../../../schemas/types.js';
import { recordChaos } from '../report.js';
import { atScale, startService, stopAll, type ChaosProcess } from '../helpers-b-procs.js';

const NORMAL_CANDLES_PER_S = 100;
const NORMAL_TEXTS_PER_S = 20;
const FACTOR = 10;
const SECONDS = atScale(15, 60);
const SYMBOLS = Array.from({ length: 20 }, (_, i) => `FLOOD${i}`);
const TICK_MS = 100;
/** Peak RSS a processor may reach under the flood (MB): about twice what one uses idle. */
const RSS_BOUND_MB = 400;
/** How far RSS may grow above the process' own idle figure while the flood lasts (MB). */
const GROWTH_BOUND_MB = 250;

describe('chaos: flood at ten times the normal rate', () => {
  let tp: TestPlatform;
  let producer: Producer;
  let procs: ChaosProcess[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('chaos-flood');
    producer = await createProducer(tp.platform.kafka);
    procs = await Promise.all([startService(tp, { command: 'features' }), startService(tp, { command: 'sentiment' })]);
  });

  afterAll(async () => {
    await stopAll(procs);
    await producer?.close();
    await tp?.cleanup();
  });

  async function lag(): Promise<number> {
    const parts = await Promise.all([
      tp.admin.groupLag(tp.platform.kafka.groupId('features'), tp.topic('candles')),
      tp.admin.groupLag(tp.platform.kafka.groupId('sentiment'), tp.topic('textRaw')),
    ]);
    return parts.flat().reduce((n, p) => n + p.lag, 0);
  }

  it('lag rises and drains, memory stays bounded, nothing lost or duplicated', async () => {
    const idle = new Map(procs.map((p) => [p.name, p.rssMb() ?? 0]));
    const candlesPerTick = (NORMAL_CANDLES_PER_S * FACTOR * TICK_MS) / 1000;
    const textsPerTick = (NORMAL_TEXTS_PER_S * FACTOR * TICK_MS) / 1000;
    const ticks = (SECONDS * 1000) / TICK_MS;
    // Every series starts far enough back that the whole flood stays in the past (no future candle).
    const perSymbol = (candlesPerTick * ticks) / SYMBOLS.length;
    const t0 = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (perSymbol + 24) * HOUR_MS;
    const expectedFeatures = new Set<string>();
    const expectedTexts = new Set<string>();
    let maxLag = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxLag = Math.max(maxLag, await lag());
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    const started = Date.now();
    let c = 0;
    let x = 0;
    for (let tick = 0; tick < ticks; tick++) {
      const records = [];
      for (let i = 0; i < candlesPerTick; i++, c++) {
        const symbol = SYMBOLS[c % SYMBOLS.length] ?? 'FLOOD0';
        const openTime = t0 + Math.floor(c / SYMBOLS.length) * HOUR_MS;
        const k = candle(openTime, 30_000 + (c % 97), { symbol, source: 'chaos-flood' });
        expectedFeatures.add(`${seriesKey(symbol, '1h')}@${k.closeTime}`);
        records.push({ topic: tp.topic('candles'), key: seriesKey(symbol, '1h'), value: tp.platform.serde.encode('candles', k), timestamp: k.closeTime });
      }
      for (let i = 0; i < textsPerTick; i++, x++) {
        const item: TextItem = {
          id: `flood-${x}`,
          source: 'chaos-flood',
          sourceId: String(x),
          kind: x % 2 === 0 ? 'tweet' : 'news',
          publishedAt: t0 + x * 60_000,
          title: null,
          text: x % 3 === 0 ? 'Bitcoin rallies hard, great news for holders' : 'Bitcoin crashes, terrible losses and fear',
          url: null,
          author: null,
          ingestedAt: Date.now(),
        };
        expectedTexts.add(item.id);
        records.push({ topic: tp.topic('textRaw'), key: item.id, value: tp.platform.serde.encode('textRaw', item), timestamp: item.publishedAt });
      }
      await producer.send(records);
      // Paced by the wall clock: a slow send is caught up, never made up for by sending later.
      const wait = started + (tick + 1) * TICK_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const floodEnd = Date.now();
    await waitFor(async () => (await lag()) === 0, 'the lag to drain', 180_000);
    const drainMs = Date.now() - floodEnd;
    sampling = false;
    await sampler;

    const features = await tp.readAll('features');
    const scored = await tp.readAll('textScored');
    const dlq = await tp.readAll('dlq');
    const featureKeys = features.map((f) => (f.value ? `${f.key ?? ''}@${f.value.eventTime}` : 'undecodable'));
    const scoredIds = scored.map((s) => s.value?.id ?? 'undecodable');
    const gotFeatures = new Set(featureKeys);
    const gotTexts = new Set(scoredIds);
    const lost = [...expectedFeatures].filter((k) => !gotFeatures.has(k)).length + [...expectedTexts].filter((id) => !gotTexts.has(id)).length;
    const duplicated = featureKeys.length - gotFeatures.size + (scoredIds.length - gotTexts.size);
    const crashes = procs.reduce((n, p) => n + p.crashes(), 0);
    const peaks = procs.map((p) => ({ name: p.name, idle: idle.get(p.name) ?? 0, peak: p.peakRssMb() }));
    const peak = Math.max(...peaks.map((p) => p.peak));
    const sent = expectedFeatures.size + expectedTexts.size;
    recordChaos({
      scenario: 'flood',
      fault: `${FACTOR}x normal rate (${NORMAL_CANDLES_PER_S * FACTOR} candles/s + ${NORMAL_TEXTS_PER_S * FACTOR} texts/s) for ${SECONDS} s`,
      lost,
      duplicated,
      crashes,
      recoveryMs: drainMs,
      maxLag,
      peakMemoryMb: Math.round(peak),
      records: sent,
      notes: `recovery = drain after the flood; RSS idle/peak MB: ${peaks.map((p) => `${p.name} ${p.idle.toFixed(0)}/${p.peak.toFixed(0)}`).join(', ')}; dlq ${dlq.length}`,
    });

    expect(crashes, procs.map((p) => p.output().slice(-2000)).join('\n')).toBe(0);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(dlq).toHaveLength(0);
    expect(maxLag, 'the flood built up a lag').toBeGreaterThan(0);
    for (const p of peaks) {
      expect(p.peak, `${p.name} peak RSS (MB)`).toBeLessThan(RSS_BOUND_MB);
      expect(p.peak - p.idle, `${p.name} RSS growth (MB)`).toBeLessThan(GROWTH_BOUND_MB);
    }
  });
});
