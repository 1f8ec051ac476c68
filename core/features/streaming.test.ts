import { describe, it, expect, afterEach } from 'vitest';
import { AverageGain, AverageLoss, EMA, RSI, SMA, getConfig, setConfig } from 'technicalindicators';
import { createEma, createRsi, createSma, stepEma, stepRsi, stepSma } from './streaming.js';
import type { Candle } from '../../schemas/types.js';
// The first rows of the real merged hourly file, read in place from ../shared/data with a plain
// split (independent of the replay parser). Tests may do I/O; the code under test may not.
import { readFileSync } from 'node:fs';
import { hasSharedData, sharedDataPath } from '../../test/helpers/shared-data.js';

const MERGED_FILE = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const MERGED_HOURLY = sharedDataPath(MERGED_FILE);
const HAS_MERGED = hasSharedData(MERGED_FILE);

function loadHourlyCandles(count: number): Candle[] {
  const lines = readFileSync(MERGED_HOURLY, 'utf8')
    .split('\n')
    .slice(1, count + 1);
  return lines.map((line) => {
    const [ms, , open, high, low, close, volume] = line.trim().split(',');
    const openTime = Number(ms);
    return {
      symbol: 'BTCUSDT',
      interval: '1h',
      exchange: 'binance',
      openTime,
      closeTime: openTime + 3_600_000,
      open: Number(open),
      high: Number(high),
      low: Number(low),
      close: Number(close),
      volume: Number(volume),
      quoteVolume: null,
      tradeCount: null,
      source: 'replay:test',
      ingestedAt: openTime + 3_600_000 + 5,
    };
  });
}

const closes = HAS_MERGED ? loadHourlyCandles(3000).map((c) => c.close) : [];

function isTwoDecimals(x: number): boolean {
  return Number.parseFloat(x.toFixed(2)) === x;
}

describe.skipIf(!HAS_MERGED)('port of technicalindicators 3.1.0 streaming arithmetic', () => {
  afterEach(() => setConfig('precision', undefined));

  it('SMA and EMA are bit-identical to the library on 3000 real closes', () => {
    for (const period of [10, 20]) {
      const lib = new SMA({ period, values: [] });
      const ours = createSma(period);
      closes.forEach((x, i) => {
        expect(stepSma(ours, x) ?? undefined, `SMA${period} at ${i}`).toBe(lib.nextValue(x));
      });
    }
    for (const period of [12, 26]) {
      const lib = new EMA({ period, values: [] });
      const ours = createEma(period);
      closes.forEach((x, i) => {
        expect(stepEma(ours, x) ?? undefined, `EMA${period} at ${i}`).toBe(lib.nextValue(x));
      });
    }
  });

  it('RSI averages are bit-identical to the library; its RSI is quantised to 2 decimals, ours is not', () => {
    const gain = new AverageGain({ period: 14, values: [] });
    const loss = new AverageLoss({ period: 14, values: [] });
    const lib = new RSI({ period: 14, values: [] });
    const ours = createRsi(14);
    let compared = 0;
    let libQuantised = 0;
    let oursQuantised = 0;
    closes.forEach((x, i) => {
      const r = stepRsi(ours, x);
      const g = gain.nextValue(x);
      const l = loss.nextValue(x);
      const libRsi = lib.nextValue(x);
      expect(ours.avgGain ?? undefined, `avgGain at ${i}`).toBe(g);
      expect(ours.avgLoss ?? undefined, `avgLoss at ${i}`).toBe(l);
      expect(r === null, `warm-up at ${i}`).toBe(libRsi === undefined);
      if (r !== null && libRsi !== undefined) {
        compared += 1;
        expect(Math.abs(r - libRsi)).toBeLessThanOrEqual(0.005 + 1e-9);
        if (isTwoDecimals(libRsi)) libQuantised += 1;
        if (isTwoDecimals(r)) oursQuantised += 1;
      }
    });
    expect(compared).toBe(3000 - 14);
    expect(libQuantised).toBe(compared);
    expect(oursQuantised).toBeLessThan(compared / 50);
  });

  it("the library's precision config cannot turn the RSI rounding off (it only adds rounding)", () => {
    expect(getConfig('precision')).toBeUndefined();
    setConfig('precision', 17);
    const lib = new RSI({ period: 14, values: [] });
    const values = closes
      .slice(0, 200)
      .map((x) => lib.nextValue(x))
      .filter((x): x is number => x !== undefined);
    expect(values.length).toBeGreaterThan(150);
    expect(values.every(isTwoDecimals)).toBe(true);
    setConfig('precision', 4);
    const sma = new SMA({ period: 10, values: [] });
    const rounded = closes
      .slice(0, 50)
      .map((x) => sma.nextValue(x))
      .filter((x): x is number => x !== undefined);
    expect(rounded.every((x) => Number.parseFloat(x.toPrecision(4)) === x)).toBe(true);
  });
});

describe('streaming state machines', () => {
  it('warm up for exactly period values (RSI: period changes)', () => {
    const sma = createSma(3);
    expect([1, 2, 3, 4].map((x) => stepSma(sma, x))).toEqual([null, null, 2, 3]);
    const ema = createEma(3);
    expect([1, 2, 3, 4].map((x) => stepEma(ema, x))).toEqual([null, null, 2, 3]);
    const rsi = createRsi(2);
    expect([1, 2, 3, 2].map((x) => stepRsi(rsi, x))).toEqual([null, null, 100, 50]);
  });
  it('RSI is 100 with no losses and 0 with no gains', () => {
    const up = createRsi(3);
    expect([1, 2, 3, 4, 5].map((x) => stepRsi(up, x)).at(-1)).toBe(100);
    const down = createRsi(3);
    expect([5, 4, 3, 2, 1].map((x) => stepRsi(down, x)).at(-1)).toBe(0);
  });
});
