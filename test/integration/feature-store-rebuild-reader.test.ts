// Reading a series' store back from Kafka (core/feature-store-rebuild.ts) on the real stack: the
// newest records within the bounds, found through windows by time that widen past a gap in the
// candles, with another series interleaved; one vector per event time (the later record wins), one
// candle per open time (the earlier wins), candles the indicator engine refuses (out of order,
// invalid) skipped, and candles after the newest one processed left out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { candle, HOUR_MS } from '../helpers/candles.js';
import { bareFeature } from '../helpers/features.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { createFeatureStoreReader } from '../../core/feature-store-rebuild.js';
import type { OutRecord } from '../../core/kafka/records.js';
import type { Candle, FeatureVector } from '../../schemas/types.js';

const T0 = Date.UTC(2024, 2, 1);
const BOUND = 25;

describe('feature store rebuild: reading the tail of features and market.candles', () => {
  let tp: TestPlatform;
  let producer: Producer;

  beforeAll(async () => {
    tp = await createTestPlatform('fs-rebuild-reader');
    producer = await createProducer(tp.platform.kafka);
  });

  afterAll(async () => {
    await producer?.close();
    await tp?.cleanup();
  });

  it('returns the newest vectors and candles of each series as the store holds them', async () => {
    const { serde } = tp.platform;
    const featureRecord = (f: FeatureVector): OutRecord => ({
      topic: tp.topic('features'),
      key: `${f.symbol}:${f.interval}`,
      value: serde.encode('features', f),
      timestamp: f.eventTime,
    });
    const candleRecord = (c: Candle): OutRecord => ({
      topic: tp.topic('candles'),
      key: `${c.symbol}:${c.interval}`,
      value: serde.encode('candles', c),
      timestamp: c.closeTime,
    });
    // BTCUSDT: 30 hours, a 100-hour gap, 10 hours: the bound's worth of intervals back from the
    // newest reaches only the 10, so the reader must widen its window past the gap.
    const btcHours = [...Array.from({ length: 30 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 130 + i)];
    const ethHours = Array.from({ length: 140 }, (_, i) => i);
    const btc = (h: number, over: Partial<Candle> = {}): Candle => candle(T0 + h * HOUR_MS, 30_000 + h, over);
    const eth = (h: number): Candle => candle(T0 + h * HOUR_MS, 2_000 + h, { symbol: 'ETHUSDT' });
    const vector = (c: Candle, computedAt = c.closeTime + 20): FeatureVector =>
      bareFeature('1h', c.closeTime, { symbol: c.symbol, close: c.close, computedAt });

    // In partition order per series: BTC and ETH interleaved hour by hour.
    for (let h = 0; h < 140; h++) {
      const out: OutRecord[] = [];
      if (btcHours.includes(h)) {
        out.push(candleRecord(btc(h)), featureRecord(vector(btc(h))));
      }
      if (ethHours.includes(h)) out.push(candleRecord(eth(h)), featureRecord(vector(eth(h))));
      await producer.send(out);
    }
    await producer.send([
      // A redelivered BTC candle with other prices (the engine keeps the first: a duplicate), and
      // its vector computed again (the store keeps the later).
      candleRecord(btc(139, { close: 1 })),
      featureRecord(vector(btc(139), btc(139).closeTime + 999)),
      // In the gap, after later candles: out of order, refused by the engine.
      candleRecord(btc(60)),
      // Invalid (low above high): refused by the engine.
      candleRecord(btc(61, { low: 40_000, high: 30_000 })),
      // Not processed yet when the rebuild runs.
      candleRecord(btc(140)),
    ]);

    const read = createFeatureStoreReader({
      client: tp.platform.kafka,
      serde,
      topics: { features: tp.topic('features'), candles: tp.topic('candles') },
      futureToleranceMs: tp.config.events.futureToleranceMs,
    });
    const last = btc(139);
    const lastEth = eth(139);
    const got = await read(
      [
        { symbol: 'BTCUSDT', interval: '1h', openTime: last.openTime, closeTime: last.closeTime },
        { symbol: 'ETHUSDT', interval: '1h', openTime: lastEth.openTime, closeTime: lastEth.closeTime },
      ],
      { features: BOUND, candles: BOUND },
    );

    const wantBtcHours = btcHours.slice(-BOUND);
    const [gotBtc, gotEth] = got;
    const times = (xs: { t: number }[] | undefined) => xs?.map((x) => x.t);
    expect(times(gotBtc?.vectors)).toEqual(wantBtcHours.map((h) => btc(h).closeTime));
    expect(gotBtc?.vectors.map((v) => v.value.toString('hex'))).toEqual(
      wantBtcHours.map((h) => serde.encode('features', vector(btc(h), h === 139 ? btc(139).closeTime + 999 : undefined)).toString('hex')),
    );
    expect(gotBtc?.latest?.computedAt).toBe(btc(139).closeTime + 999);
    const stableCandle = ({ ingestedAt: _i, ...rest }: Candle) => rest;
    expect(gotBtc?.candles.map(stableCandle)).toEqual(wantBtcHours.map((h) => stableCandle(btc(h))));

    const wantEthHours = ethHours.slice(-BOUND);
    expect(times(gotEth?.vectors)).toEqual(wantEthHours.map((h) => eth(h).closeTime));
    expect(gotEth?.candles.map(stableCandle)).toEqual(wantEthHours.map((h) => stableCandle(eth(h))));
    expect(gotEth?.latest?.eventTime).toBe(lastEth.closeTime);
  });
});
