import { describe, expect, it } from 'vitest';
import { parseAll, parseCandle, parseFeature, parseModels, parsePrediction, parseScore } from './parse.js';
import { candle, feature, prediction, score, T0 } from './testing.js';

/** A record as it arrives: JSON text parsed back, so 1e999 becomes Infinity as in a browser. */
const wire = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

describe('checks of what the gateway sends', () => {
  it('keeps a well-formed candle, feature, prediction and score as they are', () => {
    const c = candle(0, 100);
    expect(parseCandle(wire({ ...c, exchange: 'binance', source: 'replay', ingestedAt: T0, quoteVolume: null, tradeCount: null }))).toEqual(c);
    expect(parsePrediction(wire(prediction(T0, 100)))).toEqual(prediction(T0, 100));
    expect(parseScore(wire(score('lstm', 86_400_000)))).toEqual(score('lstm', 86_400_000));
    expect(parseFeature(wire(feature(3)))).toEqual(feature(3));
  });

  it('refuses candles with missing fields, non-finite numbers or impossible prices', () => {
    const c = candle(0, 100);
    const bad: unknown[] = [
      null,
      'candle',
      [c],
      { ...c, close: undefined },
      { ...c, close: '100' },
      JSON.parse('{"symbol":"BTCUSDT","interval":"1h","openTime":0,"closeTime":3600000,"open":1,"high":1e999,"low":1,"close":1,"volume":1}'),
      { ...c, volume: NaN },
      { ...c, volume: -1 },
      { ...c, high: 90 },
      { ...c, low: 0, open: 0 },
      { ...c, close: 200 },
      { ...c, closeTime: c.openTime },
      { ...c, openTime: 1.5 },
      { ...c, symbol: '' },
    ];
    for (const x of bad) expect(parseCandle(x), JSON.stringify(x)).toBeNull();
  });

  it('reads a feature whose indicators are warming up (null) or not finite as missing, not as zero', () => {
    const f = parseFeature(wire({ ...feature(0), sma20: null, rsi14: undefined, macd: 'x' }));
    expect(f).toMatchObject({ sma20: null, rsi14: null, macd: null, ema12: 100.5 });
    expect(parseFeature({ ...feature(0), close: Infinity })).toBeNull();
    expect(parseFeature({ ...feature(0), eventTime: undefined })).toBeNull();
  });

  it('drops a horizon with bad numbers but keeps the rest of the prediction', () => {
    const p = prediction(T0, 100);
    const broken = wire(p) as { horizons: { quantiles: unknown[]; probUp: unknown }[] };
    broken.horizons[1]!.quantiles[3] = null;
    broken.horizons[2]!.probUp = 1.5;
    const out = parsePrediction(broken)!;
    expect(out.horizons.map((h) => h.horizonSteps)).toEqual([1]);
  });

  it('drops a horizon whose quantiles decrease or do not match the levels', () => {
    const p = prediction(T0, 100);
    const swapped = {
      ...p,
      horizons: [
        { ...p.horizons[0]!, quantiles: [...p.horizons[0]!.quantiles].reverse() },
        { ...p.horizons[1]!, quantiles: [0.1] },
      ],
    };
    expect(parsePrediction(swapped)?.horizons).toEqual([]);
  });

  it('reads a prediction from before distributions (no levels, no horizons)', () => {
    const { quantileLevels: _l, horizons: _h, ...v1 } = prediction(T0, 100);
    expect(parsePrediction(v1)).toMatchObject({ quantileLevels: [], horizons: [] });
  });

  it('refuses a prediction without its forecaster or with a non-boolean baseline flag', () => {
    expect(parsePrediction({ ...prediction(T0, 100), modelName: undefined })).toBeNull();
    expect(parsePrediction({ ...prediction(T0, 100), isBaseline: 'false' })).toBeNull();
    expect(parsePrediction({ ...prediction(T0, 100), predictedPrice: Infinity })).toBeNull();
  });

  it('keeps the valid coverage entries of a score and refuses one without a window', () => {
    const s = parseScore({ ...score('lstm', 1000), coverage: [{ level: 0.8, coverage: 0.7, meanWidth: 0.01 }, { level: 'x' }, null] });
    expect(s?.coverage).toEqual([{ level: 0.8, coverage: 0.7, meanWidth: 0.01 }]);
    expect(parseScore({ ...score('lstm', 1000), windowMs: 0 })).toBeNull();
  });

  it('reads the model registry with or without a champion', () => {
    expect(parseModels({ name: 'lstm', champion: null, versions: [] })).toEqual({ name: 'lstm', champion: null, versionCount: 0 });
    const champion = { version: 'v7', trainedFrom: 1, trainedTo: 2, backend: 'wasm', createdAt: 3, expiresAt: null, metrics: {} };
    expect(parseModels({ name: 'lstm', champion, versions: [{}, {}] })).toEqual({
      name: 'lstm',
      champion: { version: 'v7', trainedFrom: 1, trainedTo: 2, backend: 'wasm', createdAt: 3, expiresAt: null },
      versionCount: 2,
    });
    expect(parseModels({ champion })).toBeNull();
    expect(parseModels({ name: 'lstm', champion: { version: 'v7' } })?.champion).toBeNull();
  });

  it('parseAll counts what it refused and ignores a list that is not one', () => {
    expect(parseAll([candle(0, 100), { nope: 1 }, null], parseCandle)).toEqual({ items: [candle(0, 100)], rejected: 2 });
    expect(parseAll({ length: 2 }, parseCandle)).toEqual({ items: [], rejected: 0 });
  });
});
