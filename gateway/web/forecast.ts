// The forecast as a trader reads it: which forecaster to show, and its fan: for each horizon the
// 50/80/90 % price intervals and the median at the horizon's target time, from the log-return
// quantiles (price = close(t) * exp(q)).
import { candleClosingAt } from './store.js';
import type { Candle, HorizonForecast, Prediction, Score } from './types.js';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds of an interval such as "1m", "15m", "1h", "1d"; null when it is not one. */
export function intervalMs(interval: string): number | null {
  const m = /^(\d{1,4})([mhdw])$/.exec(interval);
  if (!m) return null;
  const n = Number(m[1]);
  return n > 0 ? n * UNIT_MS[m[2]!]! : null;
}

/** The central intervals the fan draws, with the quantile levels that bound them. */
export const BANDS = [
  { name: '90', lo: 0.05, hi: 0.95 },
  { name: '80', lo: 0.1, hi: 0.9 },
  { name: '50', lo: 0.25, hi: 0.75 },
] as const;
export type BandName = (typeof BANDS)[number]['name'];

/** The quantile of `h` at `level`, or undefined when the grid lacks that level. */
export function quantileAt(levels: readonly number[], h: HorizonForecast, level: number): number | undefined {
  const i = levels.findIndex((l) => Math.abs(l - level) < 1e-9);
  return i < 0 ? undefined : h.quantiles[i];
}

/** One horizon of a fan, in prices. */
export interface FanHorizon {
  horizonSteps: number;
  targetTime: number;
  /** The chart slot of the target: the openTime of the candle that closes at targetTime. */
  slotTime: number;
  median: number;
  /** Price bounds per band; a band whose levels the grid lacks is missing. */
  bands: Partial<Record<BandName, { lo: number; hi: number }>>;
  probUp: number;
}

export interface Fan {
  /** The close the forecast starts from, at the slot of the candle that closed at eventTime. */
  origin: { slotTime: number; price: number };
  horizons: FanHorizon[];
}

/**
 * close(t) of a prediction: the candle that closed at eventTime, else what the record implies
 * (its top-level predictedPrice is close(t) * exp(predictedLogReturn)). Null when neither gives a
 * positive finite price.
 */
export function originClose(p: Prediction, candles: readonly Candle[]): number | null {
  const c = candleClosingAt(candles, p.eventTime);
  if (c !== undefined) return c.close;
  const implied = p.predictedPrice / Math.exp(p.predictedLogReturn);
  return Number.isFinite(implied) && implied > 0 ? implied : null;
}

/** The price bounds of one horizon, or null when the median is missing or a price is not finite. */
export function fanHorizon(levels: readonly number[], h: HorizonForecast, close: number, stepMs: number): FanHorizon | null {
  const q50 = quantileAt(levels, h, 0.5);
  if (q50 === undefined) return null;
  const median = close * Math.exp(q50);
  if (!Number.isFinite(median)) return null;
  const bands: FanHorizon['bands'] = {};
  for (const b of BANDS) {
    const lo = quantileAt(levels, h, b.lo);
    const hi = quantileAt(levels, h, b.hi);
    if (lo === undefined || hi === undefined) continue;
    const band = { lo: close * Math.exp(lo), hi: close * Math.exp(hi) };
    if (Number.isFinite(band.lo) && Number.isFinite(band.hi)) bands[b.name] = band;
  }
  if (Object.keys(bands).length === 0) return null;
  return { horizonSteps: h.horizonSteps, targetTime: h.targetTime, slotTime: h.targetTime - stepMs, median, bands, probUp: h.probUp };
}

/** The fan of a prediction: every horizon with a median and at least one interval. */
export function fanOf(p: Prediction, close: number, stepMs: number): Fan {
  const horizons = p.horizons.map((h) => fanHorizon(p.quantileLevels, h, close, stepMs)).filter((h) => h !== null);
  return { origin: { slotTime: p.eventTime - stepMs, price: close }, horizons };
}

/** The newest eventTime among `predictions`, or null. */
export function newestEventTime(predictions: Iterable<Prediction>): number | null {
  let t: number | null = null;
  for (const p of predictions) if (t === null || p.eventTime > t) t = p.eventTime;
  return t;
}

/** The 7-day window, whose skill picks the baseline shown when no model serves. */
const WEEK_MS = 604_800_000;

/**
 * Which forecaster the fan and the forecast panel show: the model (isBaseline false) when it has
 * a forecast at the newest event time; else the baseline with the best 7-day skill against
 * persistence at the shortest horizon; else the first baseline by name. Null without predictions.
 */
export function chooseForecaster(predictions: Iterable<Prediction>, scores: Iterable<Score>): string | null {
  const all = [...predictions];
  const newest = newestEventTime(all);
  if (newest === null) return null;
  const latest = all.filter((p) => p.eventTime === newest);
  const model = latest.find((p) => !p.isBaseline);
  if (model !== undefined) return model.modelName;
  const names = new Set(latest.map((p) => p.modelName));
  const shortest = Math.min(...latest.map((p) => p.horizons[0]?.horizonSteps ?? p.horizonSteps));
  let best: { name: string; skill: number } | null = null;
  for (const s of scores) {
    if (!names.has(s.modelName) || s.horizonSteps !== shortest || s.windowMs !== WEEK_MS || s.skillVsPersistence === null || s.samples === 0) continue;
    if (best === null || s.skillVsPersistence > best.skill || (s.skillVsPersistence === best.skill && s.modelName < best.name)) {
      best = { name: s.modelName, skill: s.skillVsPersistence };
    }
  }
  return best?.name ?? [...names].sort()[0] ?? null;
}

/** The newest prediction of `modelName`, or null. */
export function latestOf(predictions: Iterable<Prediction>, modelName: string): Prediction | null {
  let out: Prediction | null = null;
  for (const p of predictions) if (p.modelName === modelName && (out === null || p.eventTime > out.eventTime)) out = p;
  return out;
}
