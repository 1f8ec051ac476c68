// Research features over real hourly candles (read in place from ../shared/data) equal what the
// live feature processor computes: the indicator reference of test/helpers/features.ts bit for
// bit, and the naive point-in-time sentiment over (t - W, t].
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Candle } from '../../schemas/types.js';
import { compareWithReference, featureKey, referenceIndicators } from '../../test/helpers/features.js';
import { isBitPredictError } from '../errors.js';
import { featuresFromCandles, seriesOf } from './batch.js';
import { loadCandlesFromFile } from '../data/load.js';
import { scoredText as scored } from '../../test/helpers/features.js';
import { hasSharedData, SHARED_DATA_DIR } from '../../test/helpers/shared-data.js';

const DATA = SHARED_DATA_DIR;
const MERGED = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const HAS_MERGED = hasSharedData(MERGED);
const H = 3_600_000;
const W = 2 * H;
// 500 hours from 2018-01-25 span the real 33-hour outage of 2018-02-08 00:00 .. 2018-02-09 09:00.
const FROM = Date.UTC(2018, 0, 25);

describe.skipIf(!HAS_MERGED)('loadCandlesFromFile', () => {
  it('gives the replay candles of the real file, gaps kept', async () => {
    const candles = await loadCandlesFromFile(DATA, MERGED, 'BTCUSDT', '1h', { from: FROM, limit: 500 });
    expect(candles).toHaveLength(500);
    const c0 = candles[0] as Candle;
    expect(c0.openTime).toBe(FROM);
    expect(c0.closeTime).toBe(FROM + H);
    expect(c0.source).toBe('replay:BTCUSDT_1h_merged.csv');
    // The CSV row of that hour, parsed by hand.
    const line =
      readFileSync(resolve(DATA, MERGED), 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${FROM},`)) ?? '';
    const [, , open, high, low, close, volume] = line.split(',');
    expect([c0.open, c0.high, c0.low, c0.close, c0.volume]).toEqual([open, high, low, close, volume].map(Number));
    const steps = candles.slice(1).map((c, i) => c.openTime - (candles[i] as Candle).openTime);
    expect(steps.filter((s) => s !== H)).toEqual([34 * H]);
  });
});

describe.skipIf(!HAS_MERGED)('featuresFromCandles', () => {
  it('equals the live processor semantics on 500 real hourly candles with texts', async () => {
    const candles = await loadCandlesFromFile(DATA, MERGED, 'BTCUSDT', '1h', { from: FROM, limit: 500 });
    const t = (k: number): number => (candles[k] as Candle).closeTime;
    const texts = [
      scored('at-t3', t(3), 0.6),
      scored('after-t3', t(3) + 1, -0.9),
      scored('at-t5-minus-W', t(5) - W, 0.3),
      scored('in-t5', t(5) - 30 * 60_000, -0.2, { positive: 0.1, negative: 0.7 }),
      scored('in-t5b', t(5) - 10 * 60_000, 0.8, { positive: 0.9, negative: 0.05 }),
      scored('in-t5', t(5) - 5 * 60_000, 0.99),
      scored('late', t(400) - 1, -0.5),
      scored('far-future', Date.UTC(2030, 0, 1), 1),
    ];
    const features = featuresFromCandles(candles, texts, { windowMs: W });
    expect(features).toHaveLength(500);
    const ref = referenceIndicators(candles);
    const firstWins = texts.filter((x, i) => texts.findIndex((y) => y.id === x.id) === i);
    for (const f of features) {
      const r = ref.get(featureKey(f));
      expect(r, featureKey(f)).toBeDefined();
      if (r) expect(compareWithReference(f, r, firstWins, W), featureKey(f)).toEqual([]);
      expect(f.computedAt).toBe(0);
    }
    const at = (k: number) => features[k];
    expect(at(3)).toMatchObject({ textCount: 2, vaderPosShare: 1 });
    expect(at(5)).toMatchObject({ textCount: 3, finbertCount: 2 });
    expect(at(400)?.textCount).toBe(1);
    expect(at(100)).toMatchObject({ textCount: 0, vaderMean: null });
    // The real gap: the first vector after it has gapBefore and no one-period return.
    const afterGap = features.find((f) => f.gapBefore);
    expect(afterGap?.openTime).toBe(Date.UTC(2018, 1, 9, 10));
    expect(afterGap?.logReturn1).toBeNull();
    // Identical inputs, identical results (text order only matters for duplicate ids).
    expect(featuresFromCandles(candles, [...firstWins].reverse(), { windowMs: W })).toEqual(features);
    expect(seriesOf(features, 'BTCUSDT', '1h')).toEqual(features);
  });

  it('skips a redelivered candle, refuses an older one and a bad window', async () => {
    const candles = await loadCandlesFromFile(DATA, MERGED, 'BTCUSDT', '1h', { from: FROM, limit: 5 });
    const c = (k: number): Candle => candles[k] as Candle;
    expect(featuresFromCandles([c(0), c(1), c(1), c(2)], [], { windowMs: W }).map((f) => f.openTime)).toEqual([0, 1, 2].map((k) => c(k).openTime));
    let err: unknown = null;
    try {
      featuresFromCandles([c(0), c(2), c(1)], [], { windowMs: W });
    } catch (e) {
      err = e;
    }
    expect(isBitPredictError(err) && err.code === 'ERR_VALIDATION' && /out of order/.test(err.message)).toBe(true);
    expect(() => featuresFromCandles(candles, [], { windowMs: 0 })).toThrow(/windowMs/);
  });
});
