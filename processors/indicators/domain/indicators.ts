// Streaming indicators of one symbol:interval series (the caller keeps one engine per series).
// Pure: no clock reads (computedAt is passed in), no I/O. The whole state is plain JSON so that it
// can be snapshotted (Redis) and restored to continue exactly as an uninterrupted run would.
import { BitPredictError } from '../../../core/errors.js';
import type { Candle, FeatureVector } from '../../../schemas/types.js';
import {
  createEma,
  createRsi,
  createSma,
  stepEma,
  stepRsi,
  stepSma,
  type EmaState,
  type RsiState,
  type SmaState,
} from './streaming.js';

export const FEATURE_SET_VERSION = 'fs-1';
export const INDICATOR_SNAPSHOT_VERSION = 1;

const PERIODS = { sma10: 10, sma20: 20, ema12: 12, ema26: 26, rsi14: 14 } as const;

export interface IndicatorState {
  /** The series this engine belongs to; set by the first candle. */
  series: { symbol: string; interval: string } | null;
  /** The last accepted candle, for duplicate/order checks and one-period returns. */
  last: { openTime: number; closeTime: number; close: number } | null;
  sma10: SmaState;
  sma20: SmaState;
  ema12: EmaState;
  ema26: EmaState;
  rsi14: RsiState;
}

export interface IndicatorSnapshot {
  version: typeof INDICATOR_SNAPSHOT_VERSION;
  featureSetVersion: typeof FEATURE_SET_VERSION;
  state: IndicatorState;
}

export type IndicatorUpdate =
  | { kind: 'feature'; feature: FeatureVector }
  | { kind: 'duplicate' }
  | { kind: 'out_of_order'; lastOpenTime: number };

export interface IndicatorEngine {
  /**
   * Feeds the next closed candle. A candle with the last open time is a redelivery ('duplicate'),
   * an older one is 'out_of_order'; both leave the state unchanged. A candle that cannot belong to
   * this series (other symbol/interval, non-positive close, bad times, overlapping the last one)
   * throws ERR_VALIDATION, also without touching the state.
   */
  update(c: Candle, computedAt: number): IndicatorUpdate;
  /** A deep copy of the state; JSON.stringify-able and unaffected by later updates. */
  snapshot(): IndicatorSnapshot;
}

function initialState(): IndicatorState {
  return {
    series: null,
    last: null,
    sma10: createSma(PERIODS.sma10),
    sma20: createSma(PERIODS.sma20),
    ema12: createEma(PERIODS.ema12),
    ema26: createEma(PERIODS.ema26),
    rsi14: createRsi(PERIODS.rsi14),
  };
}

function reject(c: Candle, why: string): never {
  throw new BitPredictError('ERR_VALIDATION', `candle ${c.symbol}:${c.interval} opening ${c.openTime}: ${why}`);
}

function checkCandle(s: IndicatorState, c: Candle): void {
  if (!Number.isSafeInteger(c.openTime) || !Number.isSafeInteger(c.closeTime) || c.closeTime <= c.openTime) {
    reject(c, `times ${c.openTime}..${c.closeTime} are not integer ms with closeTime > openTime`);
  }
  if (!(Number.isFinite(c.close) && c.close > 0)) reject(c, `close ${c.close} is not a finite number > 0`);
  if (!Number.isFinite(c.volume)) reject(c, `volume ${c.volume} is not finite`);
  if (s.series !== null && (s.series.symbol !== c.symbol || s.series.interval !== c.interval)) {
    reject(c, `belongs to another series than this engine's ${s.series.symbol}:${s.series.interval}`);
  }
}

function engineOver(s: IndicatorState): IndicatorEngine {
  return {
    update(c, computedAt) {
      checkCandle(s, c);
      const last = s.last;
      if (last !== null) {
        if (c.openTime === last.openTime) return { kind: 'duplicate' };
        if (c.openTime < last.openTime) return { kind: 'out_of_order', lastOpenTime: last.openTime };
        if (c.openTime < last.closeTime) reject(c, `overlaps the previous candle, which closes at ${last.closeTime}`);
      }
      // A one-period return is only defined between adjacent candles. After an outage the previous
      // close is several intervals old, so the returns are null; the indicators run on across the
      // gap (they are defined on the sequence of closes, and the gap is flagged for consumers).
      const gapBefore = last !== null && c.openTime !== last.closeTime;
      const adjacent = last !== null && !gapBefore;
      const return1 = adjacent ? c.close / last.close - 1 : null;
      const logReturn1 = adjacent ? Math.log(c.close / last.close) : null;
      const feature: FeatureVector = {
        symbol: c.symbol,
        interval: c.interval,
        eventTime: c.closeTime,
        openTime: c.openTime,
        featureSetVersion: FEATURE_SET_VERSION,
        close: c.close,
        volume: c.volume,
        gapBefore,
        return1,
        logReturn1,
        sma10: stepSma(s.sma10, c.close),
        sma20: stepSma(s.sma20, c.close),
        ema12: stepEma(s.ema12, c.close),
        ema26: stepEma(s.ema26, c.close),
        rsi14: stepRsi(s.rsi14, c.close),
        candleIngestedAt: c.ingestedAt,
        computedAt,
      };
      s.series ??= { symbol: c.symbol, interval: c.interval };
      s.last = { openTime: c.openTime, closeTime: c.closeTime, close: c.close };
      return { kind: 'feature', feature };
    },
    snapshot() {
      return { version: INDICATOR_SNAPSHOT_VERSION, featureSetVersion: FEATURE_SET_VERSION, state: structuredClone(s) };
    },
  };
}

export function createIndicatorEngine(): IndicatorEngine {
  return engineOver(initialState());
}

/**
 * An engine that continues from a snapshot exactly where the snapshotted engine was. The snapshot
 * usually comes back from Redis as parsed JSON, so it is checked field by field; anything that is
 * not a state this module could have written throws ERR_VALIDATION naming the bad field.
 */
export function restoreIndicatorEngine(snapshot: unknown): IndicatorEngine {
  return engineOver(parseSnapshot(snapshot).state);
}

// ---------------------------------------------------------------------------------------------
// Snapshot validation

class SnapshotError extends Error {}

function fail(path: string, what: string): never {
  throw new SnapshotError(`${path} ${what}`);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'is not an object');
  return v as Record<string, unknown>;
}

function num(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'is not a finite number');
  return v;
}

function int(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) fail(path, `is not an integer in [${min}, ${max}]`);
  return v as number;
}

function numOrNull(v: unknown, path: string): number | null {
  return v === null ? null : num(v, path);
}

function positive(v: unknown, path: string): number {
  const n = num(v, path);
  if (n <= 0) fail(path, 'is not > 0');
  return n;
}

function parseSma(v: unknown, path: string, period: number): SmaState {
  const o = obj(v, path);
  if (o.period !== period) fail(`${path}.period`, `is not ${period}`);
  if (!Array.isArray(o.window) || o.window.length > period) fail(`${path}.window`, `is not an array of at most ${period} closes`);
  const window = (o.window as unknown[]).map((x, i) => positive(x, `${path}.window[${i}]`));
  return { period, window, sum: num(o.sum, `${path}.sum`) };
}

function parseEma(v: unknown, path: string, period: number): EmaState {
  const o = obj(v, path);
  if (o.period !== period) fail(`${path}.period`, `is not ${period}`);
  return { period, seed: parseSma(o.seed, `${path}.seed`, period), value: numOrNull(o.value, `${path}.value`) };
}

function parseRsi(v: unknown, path: string, period: number): RsiState {
  const o = obj(v, path);
  if (o.period !== period) fail(`${path}.period`, `is not ${period}`);
  const avgGain = numOrNull(o.avgGain, `${path}.avgGain`);
  const avgLoss = numOrNull(o.avgLoss, `${path}.avgLoss`);
  if ((avgGain === null) !== (avgLoss === null)) fail(path, 'has only one of avgGain and avgLoss');
  return {
    period,
    prev: o.prev === null ? null : positive(o.prev, `${path}.prev`),
    changes: int(o.changes, `${path}.changes`, 0, period),
    gainSum: num(o.gainSum, `${path}.gainSum`),
    lossSum: num(o.lossSum, `${path}.lossSum`),
    avgGain,
    avgLoss,
  };
}

function parseSnapshot(v: unknown): IndicatorSnapshot {
  try {
    const o = obj(v, 'snapshot');
    if (o.version !== INDICATOR_SNAPSHOT_VERSION) fail('snapshot.version', `is ${JSON.stringify(o.version)}, expected ${INDICATOR_SNAPSHOT_VERSION}`);
    if (o.featureSetVersion !== FEATURE_SET_VERSION) {
      fail('snapshot.featureSetVersion', `is ${JSON.stringify(o.featureSetVersion)}, this engine computes ${FEATURE_SET_VERSION}`);
    }
    const s = obj(o.state, 'state');
    let series: IndicatorState['series'] = null;
    if (s.series !== null) {
      const so = obj(s.series, 'state.series');
      if (typeof so.symbol !== 'string' || so.symbol === '') fail('state.series.symbol', 'is not a non-empty string');
      if (typeof so.interval !== 'string' || so.interval === '') fail('state.series.interval', 'is not a non-empty string');
      series = { symbol: so.symbol, interval: so.interval };
    }
    let last: IndicatorState['last'] = null;
    if (s.last !== null) {
      const lo = obj(s.last, 'state.last');
      const openTime = int(lo.openTime, 'state.last.openTime', 0);
      const closeTime = int(lo.closeTime, 'state.last.closeTime', openTime + 1);
      last = { openTime, closeTime, close: positive(lo.close, 'state.last.close') };
    }
    if ((series === null) !== (last === null)) fail('state', 'has only one of series and last');
    const state: IndicatorState = {
      series,
      last,
      sma10: parseSma(s.sma10, 'state.sma10', PERIODS.sma10),
      sma20: parseSma(s.sma20, 'state.sma20', PERIODS.sma20),
      ema12: parseEma(s.ema12, 'state.ema12', PERIODS.ema12),
      ema26: parseEma(s.ema26, 'state.ema26', PERIODS.ema26),
      rsi14: parseRsi(s.rsi14, 'state.rsi14', PERIODS.rsi14),
    };
    return { version: INDICATOR_SNAPSHOT_VERSION, featureSetVersion: FEATURE_SET_VERSION, state };
  } catch (err) {
    if (err instanceof SnapshotError) {
      throw new BitPredictError('ERR_VALIDATION', `invalid indicator snapshot: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
