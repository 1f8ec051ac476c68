// What became of past forecasts: for each forecast whose target candle has closed, whether the
// realised close fell inside the 80 % interval and whether the forecast direction was right.
import { fanHorizon, originClose, quantileAt } from './forecast.js';
import { candleClosingAt } from './store.js';
import type { Candle, HorizonForecast, Prediction } from './types.js';

export type Direction = 'up' | 'down' | 'flat';

/**
 * The direction a forecast calls: up when P(up) > 0.5, down when below; at exactly 0.5 (a
 * persistence forecast) the sign of its median; flat when that is 0 too.
 */
export function forecastDirection(levels: readonly number[], h: HorizonForecast): Direction {
  if (h.probUp > 0.5) return 'up';
  if (h.probUp < 0.5) return 'down';
  const q50 = quantileAt(levels, h, 0.5) ?? 0;
  return q50 > 0 ? 'up' : q50 < 0 ? 'down' : 'flat';
}

export function moveDirection(from: number, to: number): Direction {
  return to > from ? 'up' : to < from ? 'down' : 'flat';
}

export interface Outcome {
  modelName: string;
  modelVersion: string;
  isBaseline: boolean;
  horizonSteps: number;
  eventTime: number;
  targetTime: number;
  /** Chart slot of the target candle (its openTime). */
  slotTime: number;
  origin: number;
  realised: number;
  median: number;
  lo80: number;
  hi80: number;
  /** The realised close lies in the 80 % interval (bounds included). */
  inside: boolean;
  called: Direction;
  moved: Direction;
  /** The called direction is the one the price moved; null when the forecast called none (flat: P(up) 50 % and a zero median, as persistence). */
  right: boolean | null;
}

/** The outcome of one horizon of a prediction, or null when the 80 % interval or a price is missing. */
export function outcomeOf(p: Prediction, h: HorizonForecast, origin: number, realised: number, stepMs: number): Outcome | null {
  const fan = fanHorizon(p.quantileLevels, h, origin, stepMs);
  const band = fan?.bands['80'];
  if (fan === null || band === undefined || !(realised > 0) || !Number.isFinite(realised)) return null;
  const called = forecastDirection(p.quantileLevels, h);
  const moved = moveDirection(origin, realised);
  return {
    modelName: p.modelName,
    modelVersion: p.modelVersion,
    isBaseline: p.isBaseline,
    horizonSteps: h.horizonSteps,
    eventTime: p.eventTime,
    targetTime: h.targetTime,
    slotTime: fan.slotTime,
    origin,
    realised,
    median: fan.median,
    lo80: band.lo,
    hi80: band.hi,
    inside: realised >= band.lo && realised <= band.hi,
    called,
    moved,
    right: called === 'flat' ? null : called === moved,
  };
}

/**
 * The outcomes of `modelName`'s forecasts at `horizonSteps` whose target candle is among
 * `candles`, newest first, at most `limit`. Forecasts still waiting for their candle are left out.
 */
export function pastOutcomes(
  predictions: Iterable<Prediction>,
  candles: readonly Candle[],
  modelName: string,
  horizonSteps: number,
  stepMs: number,
  limit: number,
): Outcome[] {
  const mine = [...predictions].filter((p) => p.modelName === modelName).sort((a, b) => b.eventTime - a.eventTime);
  const out: Outcome[] = [];
  for (const p of mine) {
    if (out.length >= limit) break;
    const h = p.horizons.find((x) => x.horizonSteps === horizonSteps);
    const target = h === undefined ? undefined : candleClosingAt(candles, h.targetTime);
    const origin = originClose(p, candles);
    if (h === undefined || target === undefined || origin === null) continue;
    const o = outcomeOf(p, h, origin, target.close, stepMs);
    if (o !== null) out.push(o);
  }
  return out;
}

export interface OutcomeSummary {
  count: number;
  inside: number;
  /** Outcomes whose forecast called a direction (not flat). */
  called: number;
  right: number;
}

export function summarise(outcomes: readonly Outcome[]): OutcomeSummary {
  return {
    count: outcomes.length,
    inside: outcomes.filter((o) => o.inside).length,
    called: outcomes.filter((o) => o.right !== null).length,
    right: outcomes.filter((o) => o.right === true).length,
  };
}

function pct(n: number, of: number): string {
  return `${Math.round((100 * n) / of)} %`;
}

/** The summary line in words. A forecast that calls no direction (flat) is not counted as right or wrong. */
export function summaryText(s: OutcomeSummary, modelName: string, horizonSteps: number, interval: string): string {
  if (s.count === 0) return `No forecast of ${modelName} ${horizonSteps} x ${interval} ahead has reached its target candle yet.`;
  const n = s.count === 1 ? 'the last forecast' : `the last ${s.count} forecasts`;
  const direction =
    s.called === 0
      ? `none called a direction (P(up) 50 %: ${modelName} forecasts the size of the move, not its sign).`
      : s.called === s.count
        ? `${s.right} called the direction right (${pct(s.right, s.count)}; a coin lands about 50 %).`
        : `of the ${s.called} that called a direction, ${s.right} were right (${pct(s.right, s.called)}; a coin lands about 50 %).`;
  return `Of ${n} of ${modelName} ${horizonSteps} x ${interval} ahead, ${s.inside} landed inside the 80 % interval (${pct(s.inside, s.count)}; a calibrated forecast lands about 80 %) and ${direction}`;
}

/** One point of the past forecasts' band: the 80 % interval and median at a realised target. */
export interface PastBandPoint {
  slotTime: number;
  lo: number;
  hi: number;
  median: number;
}

/**
 * The 80 % interval and median of `modelName`'s forecasts at `horizonSteps` for every target
 * candle that has closed, oldest first: the band the realised candles are drawn against.
 */
export function pastBand(
  predictions: Iterable<Prediction>,
  candles: readonly Candle[],
  modelName: string,
  horizonSteps: number,
  stepMs: number,
): PastBandPoint[] {
  const lastClose = candles.at(-1)?.closeTime ?? -Infinity;
  const bySlot = new Map<number, PastBandPoint>();
  for (const p of predictions) {
    if (p.modelName !== modelName) continue;
    const h = p.horizons.find((x) => x.horizonSteps === horizonSteps);
    if (h === undefined || h.targetTime > lastClose) continue;
    const origin = originClose(p, candles);
    const fan = origin === null ? null : fanHorizon(p.quantileLevels, h, origin, stepMs);
    const band = fan?.bands['80'];
    if (fan === null || fan === undefined || band === undefined) continue;
    bySlot.set(fan.slotTime, { slotTime: fan.slotTime, lo: band.lo, hi: band.hi, median: fan.median });
  }
  return [...bySlot.values()].sort((a, b) => a.slotTime - b.slotTime);
}
