// Streaming indicators of one symbol:interval series (the caller keeps one engine per series).
// Pure: no clock reads (computedAt is passed in), no I/O. The whole state is plain JSON so that it
// can be snapshotted (Redis) and restored to continue exactly as an uninterrupted run would.
//
// fs-2 definitions (schemas/avro/feature-vector.avsc is the spec). SMA/EMA/MACD(12,26,9; EMA
// oscillator and signal)/Bollinger(20, 2, population sd)/ATR14 are technicalindicators 3.1.0's
// arithmetic, bit-identical (indicators.test.ts); like the library's ATR, the first candle of a
// series has no true range, so atr14 starts with candle 15. Returns over h intervals use the candle
// that opened exactly h intervals earlier (null if missing); realizedVol24 needs 24 consecutive
// one-interval log returns; volumeZ20 and vwap24 are fresh sums over the last 20/24 candles. All
// indicators except returns and realizedVol24 run on across gaps (sequence of candles).
import { BitPredictError } from '../errors.js';
import type { Candle, FeatureVector } from '../../schemas/types.js';
import {
  createAtr,
  createEma,
  createRsi,
  createSma,
  stepAtr,
  stepEma,
  stepRsi,
  stepSma,
  windowSd,
  type AtrState,
  type EmaState,
  type RsiState,
  type SmaState,
} from './streaming.js';

export const FEATURE_SET_VERSION = 'fs-2';
export const INDICATOR_SNAPSHOT_VERSION = 2;

/** FeatureVector fields filled by the feature processor's sentiment join, not by this engine. */
export type SentimentFields =
  'sentimentWindowMs' | 'textCount' | 'vaderMean' | 'vaderStd' | 'vaderPosShare' | 'vaderNegShare' | 'finbertCount' | 'finbertMean' | 'textWatermark';
export type IndicatorFeatures = Omit<FeatureVector, SentimentFields>;

const PERIODS = {
  sma10: 10,
  sma20: 20,
  sma50: 50,
  ema12: 12,
  ema26: 26,
  ema50: 50,
  macdSignal: 9,
  rsi14: 14,
  atr14: 14,
} as const;
const BB_STDDEV = 2;
/** Candles kept in `recent`: enough for return24 (the 24 before this one) and vwap24/volumeZ20. */
const RECENT = 24;
const VWAP = 24;
const VOLUME_Z = 20;
const REALIZED_VOL = 24;

/** The last candles of the series (at most RECENT), oldest first, as parallel arrays. */
export interface RecentCandles {
  openTime: number[];
  close: number[];
  /** Typical price (high + low + close) / 3. */
  typical: number[];
  volume: number[];
}

export interface IndicatorState {
  /** The series this engine belongs to; set by the first candle. */
  series: { symbol: string; interval: string } | null;
  /** The last accepted candle, for duplicate/order checks and one-period returns. */
  last: { openTime: number; closeTime: number; close: number } | null;
  sma10: SmaState;
  /** Also the Bollinger middle band; its window gives the band's standard deviation. */
  sma20: SmaState;
  sma50: SmaState;
  ema12: EmaState;
  ema26: EmaState;
  ema50: EmaState;
  /** EMA9 of the MACD line (ema12 - ema26), fed from the first candle both exist. */
  macdSignal: EmaState;
  rsi14: RsiState;
  atr14: AtrState;
  /** The last RECENT candles including the last accepted one (for 4/24-interval returns, VWAP, volume z). */
  recent: RecentCandles;
  /** One-interval log returns of the current run of adjacent candles (last REALIZED_VOL at most), oldest first; emptied at a gap. */
  logReturns: number[];
}

export interface IndicatorSnapshot {
  version: typeof INDICATOR_SNAPSHOT_VERSION;
  featureSetVersion: typeof FEATURE_SET_VERSION;
  state: IndicatorState;
}

export type IndicatorUpdate = { kind: 'feature'; feature: IndicatorFeatures } | { kind: 'duplicate' } | { kind: 'out_of_order'; lastOpenTime: number };

export interface IndicatorEngine {
  /**
   * Feeds the next closed candle. A candle with the last open time is a redelivery ('duplicate'),
   * an older one is 'out_of_order'; both leave the state unchanged. A candle that cannot belong to
   * this series (other symbol/interval, non-positive close, bad high/low/volume, bad times,
   * overlapping the last one) throws ERR_VALIDATION, also without touching the state.
   */
  update(c: Candle, computedAt: number): IndicatorUpdate;
  /** A deep copy of the state; JSON.stringify-able and unaffected by later updates. */
  snapshot(): IndicatorSnapshot;
  /** The series and times of the last accepted candle, or null before the first. */
  lastCandle(): { symbol: string; interval: string; openTime: number; closeTime: number } | null;
}

function initialState(): IndicatorState {
  return {
    series: null,
    last: null,
    sma10: createSma(PERIODS.sma10),
    sma20: createSma(PERIODS.sma20),
    sma50: createSma(PERIODS.sma50),
    ema12: createEma(PERIODS.ema12),
    ema26: createEma(PERIODS.ema26),
    ema50: createEma(PERIODS.ema50),
    macdSignal: createEma(PERIODS.macdSignal),
    rsi14: createRsi(PERIODS.rsi14),
    atr14: createAtr(PERIODS.atr14),
    recent: { openTime: [], close: [], typical: [], volume: [] },
    logReturns: [],
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
  if (!(Number.isFinite(c.high) && Number.isFinite(c.low) && c.low <= c.high)) {
    reject(c, `high ${c.high} / low ${c.low} are not finite numbers with low <= high`);
  }
  if (!(Number.isFinite(c.volume) && c.volume >= 0)) reject(c, `volume ${c.volume} is not a finite number >= 0`);
  if (s.series !== null && (s.series.symbol !== c.symbol || s.series.interval !== c.interval)) {
    reject(c, `belongs to another series than this engine's ${s.series.symbol}:${s.series.interval}`);
  }
}

/**
 * Close of the candle that opened exactly `h` intervals before `openTime`, from the candles before
 * this one; null when that candle is not in the series (start, or lost in a gap). Open times are
 * strictly increasing and candles do not overlap, so it is at most h entries back.
 */
function closeBack(r: RecentCandles, openTime: number, interval: number, h: number): number | null {
  const target = openTime - h * interval;
  for (let i = r.openTime.length - 1; i >= 0; i -= 1) {
    const t = r.openTime[i] as number;
    if (t === target) return r.close[i] as number;
    if (t < target) return null;
  }
  return null;
}

/** Sum of typical * volume over sum of volume of the last `n` recent candles; null if fewer or no volume. */
function vwapOf(r: RecentCandles, n: number): number | null {
  const len = r.volume.length;
  if (len < n) return null;
  let pv = 0;
  let v = 0;
  for (let i = len - n; i < len; i += 1) {
    const vol = r.volume[i] as number;
    pv = pv + (r.typical[i] as number) * vol;
    v = v + vol;
  }
  return v === 0 ? null : pv / v;
}

/**
 * (last volume - mean) / population standard deviation over the last `n` volumes (two passes, fresh
 * sums); null with fewer than n, or when all n are equal (deviation 0, also when rounding of the
 * mean would leave a tiny non-zero one).
 */
function volumeZOf(r: RecentCandles, n: number): number | null {
  const vs = r.volume;
  const len = vs.length;
  if (len < n) return null;
  const first = vs[len - n] as number;
  let sum = 0;
  let allEqual = true;
  for (let i = len - n; i < len; i += 1) {
    const x = vs[i] as number;
    sum = sum + x;
    if (x !== first) allEqual = false;
  }
  if (allEqual) return null;
  const mean = sum / n;
  let sq = 0;
  for (let i = len - n; i < len; i += 1) {
    const d = (vs[i] as number) - mean;
    sq = sq + d * d;
  }
  const sd = Math.sqrt(sq / n);
  return sd === 0 ? null : ((vs[len - 1] as number) - mean) / sd;
}

/** sqrt of the sum of squares of the last n one-interval log returns (fresh sum, oldest first). */
function realizedVolOf(rs: number[], n: number): number | null {
  if (rs.length < n) return null;
  let sq = 0;
  for (let i = rs.length - n; i < rs.length; i += 1) {
    const x = rs[i] as number;
    sq = sq + x * x;
  }
  return Math.sqrt(sq);
}

function pushBounded(xs: number[], x: number, max: number): void {
  xs.push(x);
  if (xs.length > max) xs.shift();
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
      // From here on nothing throws: the state is only touched by a candle that is accepted.
      //
      // A one-period return is only defined between adjacent candles. After an outage the previous
      // close is several intervals old, so the returns are null; the indicators run on across the
      // gap (they are defined on the sequence of closes, and the gap is flagged for consumers).
      // Returns over h intervals need the candle that opened exactly h intervals earlier.
      const gapBefore = last !== null && c.openTime !== last.closeTime;
      const adjacent = last !== null && !gapBefore;
      const return1 = adjacent ? c.close / last.close - 1 : null;
      const logReturn1 = adjacent ? Math.log(c.close / last.close) : null;
      const interval = c.closeTime - c.openTime;
      const r = s.recent;
      const back4 = closeBack(r, c.openTime, interval, 4);
      const back24 = closeBack(r, c.openTime, interval, 24);

      const sma20 = stepSma(s.sma20, c.close);
      const ema12 = stepEma(s.ema12, c.close);
      const ema26 = stepEma(s.ema26, c.close);
      // technicalindicators' MACD (EMA oscillator and signal): line = fast - slow from the candle
      // the slow EMA exists; signal = EMA9 of the line; histogram = line - signal.
      const macd = ema12 !== null && ema26 !== null ? ema12 - ema26 : null;
      const macdSignal = macd !== null ? stepEma(s.macdSignal, macd) : null;
      const macdHist = macd !== null && macdSignal !== null ? macd - macdSignal : null;
      // technicalindicators' BollingerBands(20, 2): middle = SMA20, sd = SD over the same window.
      let bbPercentB: number | null = null;
      let bbWidth: number | null = null;
      if (sma20 !== null) {
        const sd = windowSd(s.sma20, sma20);
        const upper = sma20 + sd * BB_STDDEV;
        const lower = sma20 - sd * BB_STDDEV;
        bbPercentB = upper === lower ? null : (c.close - lower) / (upper - lower);
        bbWidth = (upper - lower) / sma20;
      }

      if (logReturn1 === null) s.logReturns.length = 0;
      else pushBounded(s.logReturns, logReturn1, REALIZED_VOL);
      pushBounded(r.openTime, c.openTime, RECENT);
      pushBounded(r.close, c.close, RECENT);
      pushBounded(r.typical, (c.high + c.low + c.close) / 3, RECENT);
      pushBounded(r.volume, c.volume, RECENT);

      const feature: IndicatorFeatures = {
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
        sma20,
        ema12,
        ema26,
        rsi14: stepRsi(s.rsi14, c.close),
        return4: back4 === null ? null : c.close / back4 - 1,
        logReturn4: back4 === null ? null : Math.log(c.close / back4),
        return24: back24 === null ? null : c.close / back24 - 1,
        logReturn24: back24 === null ? null : Math.log(c.close / back24),
        sma50: stepSma(s.sma50, c.close),
        ema50: stepEma(s.ema50, c.close),
        macd,
        macdSignal,
        macdHist,
        bbPercentB,
        bbWidth,
        atr14: stepAtr(s.atr14, c.high, c.low, c.close),
        realizedVol24: realizedVolOf(s.logReturns, REALIZED_VOL),
        volumeZ20: volumeZOf(r, VOLUME_Z),
        vwap24: vwapOf(r, VWAP),
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
    lastCandle() {
      return s.last === null || s.series === null ? null : { ...s.series, openTime: s.last.openTime, closeTime: s.last.closeTime };
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

function nonNegative(v: unknown, path: string): number {
  const n = num(v, path);
  if (n < 0) fail(path, 'is not >= 0');
  return n;
}

type Check = (v: unknown, path: string) => number;

function numArray(v: unknown, path: string, max: number, check: Check, what: string): number[] {
  if (!Array.isArray(v) || v.length > max) fail(path, `is not an array of at most ${max} ${what}`);
  return (v as unknown[]).map((x, i) => check(x, `${path}[${i}]`));
}

/** `check` validates the window's values (closes > 0, true ranges >= 0, MACD values any finite). */
function parseSma(v: unknown, path: string, period: number, check: Check = positive, what = 'closes'): SmaState {
  const o = obj(v, path);
  if (o.period !== period) fail(`${path}.period`, `is not ${period}`);
  const window = numArray(o.window, `${path}.window`, period, check, what);
  return { period, window, sum: num(o.sum, `${path}.sum`) };
}

function parseEma(v: unknown, path: string, period: number, check: Check = positive, what = 'closes'): EmaState {
  const o = obj(v, path);
  if (o.period !== period) fail(`${path}.period`, `is not ${period}`);
  const seed = parseSma(o.seed, `${path}.seed`, period, check, what);
  const value = numOrNull(o.value, `${path}.value`);
  if (value !== null && seed.window.length > 0) fail(`${path}.seed.window`, 'is not empty although the EMA has a value');
  return { period, seed, value };
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

function parseAtr(v: unknown, path: string, period: number): AtrState {
  const o = obj(v, path);
  if (o.period !== period) fail(`${path}.period`, `is not ${period}`);
  const prevClose = o.prevClose === null ? null : positive(o.prevClose, `${path}.prevClose`);
  const seed = parseSma(o.seed, `${path}.seed`, period, nonNegative, 'true ranges');
  const value = o.value === null ? null : nonNegative(o.value, `${path}.value`);
  if (value !== null && seed.window.length > 0) fail(`${path}.seed.window`, 'is not empty although the ATR has a value');
  if (prevClose === null && (value !== null || seed.window.length > 0)) fail(`${path}.prevClose`, 'is null although true ranges were seen');
  return { period, prevClose, seed, value };
}

function parseRecent(v: unknown, path: string): RecentCandles {
  const o = obj(v, path);
  const openTime = numArray(o.openTime, `${path}.openTime`, RECENT, (x, p) => int(x, p, 0), 'open times');
  openTime.forEach((t, i) => {
    if (i > 0 && t <= (openTime[i - 1] as number)) fail(`${path}.openTime[${i}]`, 'is not after the one before it');
  });
  const close = numArray(o.close, `${path}.close`, RECENT, positive, 'closes');
  const typical = numArray(o.typical, `${path}.typical`, RECENT, num, 'typical prices');
  const volume = numArray(o.volume, `${path}.volume`, RECENT, nonNegative, 'volumes');
  for (const [name, xs] of [
    ['close', close],
    ['typical', typical],
    ['volume', volume],
  ] as const) {
    if (xs.length !== openTime.length) fail(`${path}.${name}`, `has ${xs.length} entries, ${path}.openTime has ${openTime.length}`);
  }
  return { openTime, close, typical, volume };
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
    const recent = parseRecent(s.recent, 'state.recent');
    const n = recent.openTime.length;
    if (last === null ? n !== 0 : n === 0 || recent.openTime[n - 1] !== last.openTime || recent.close[n - 1] !== last.close) {
      fail('state.recent', 'does not end with the candle in state.last');
    }
    const state: IndicatorState = {
      series,
      last,
      sma10: parseSma(s.sma10, 'state.sma10', PERIODS.sma10),
      sma20: parseSma(s.sma20, 'state.sma20', PERIODS.sma20),
      sma50: parseSma(s.sma50, 'state.sma50', PERIODS.sma50),
      ema12: parseEma(s.ema12, 'state.ema12', PERIODS.ema12),
      ema26: parseEma(s.ema26, 'state.ema26', PERIODS.ema26),
      ema50: parseEma(s.ema50, 'state.ema50', PERIODS.ema50),
      macdSignal: parseEma(s.macdSignal, 'state.macdSignal', PERIODS.macdSignal, num, 'MACD values'),
      rsi14: parseRsi(s.rsi14, 'state.rsi14', PERIODS.rsi14),
      atr14: parseAtr(s.atr14, 'state.atr14', PERIODS.atr14),
      recent,
      logReturns: numArray(s.logReturns, 'state.logReturns', REALIZED_VOL, num, 'log returns'),
    };
    if (state.macdSignal.value !== null || state.macdSignal.seed.window.length > 0) {
      if (state.ema26.value === null) fail('state.macdSignal', 'has MACD values although state.ema26 has no value yet');
    }
    return { version: INDICATOR_SNAPSHOT_VERSION, featureSetVersion: FEATURE_SET_VERSION, state };
  } catch (err) {
    if (err instanceof SnapshotError) {
      throw new BitPredictError('ERR_VALIDATION', `invalid indicator snapshot: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
