// Live proper-score monitor (pure). Every published forecast (the model's and every baseline's,
// every horizon) is registered; as candles close (the features stream: close and eventTime of each
// vector) the forecast whose target candle has closed is scored against the realised log return
// y = ln(close(targetTime) / close(originTime)) with the rules of core/forecast/scoring.ts: pinball
// loss over the quantile grid, QLIKE of the scale, squared error of the mean, Brier score of P(up)
// and the hits and widths of the 50/80/90 % central intervals. Scores are kept per
// (series, forecaster, horizon) and summarised over rolling windows of target time (24 h, 7 d,
// 30 d), with the skill against persistence and against the best other baseline on the SAME
// target times.
//
// Invariants:
// - A forecast whose target is undefined counts in `missing`, never as a zero loss: the features
//   stream moved past targetTime without a vector at targetTime, or at any step between the
//   origin and the target (a return that spans a gap is not a return of the horizon).
// - One forecast per (series, forecaster, horizon, targetTime) counts: a duplicate (a redelivered
//   record, a restarted predictor) is recognised while it is pending and while it is in a window.
// - The predictions and features topics are read interleaved: a forecast that arrives after its
//   outcome is scored at once from the kept closes, one that arrives before waits (pending).
// - Memory is bounded: pending forecasts are capped (the farthest targets go first), scored items
//   and closes are trimmed by event time (the longest window, plus the longest horizon for closes).
// - The series clock is the newest event time of its vectors; a vector dated beyond the wall clock
//   (plus a tolerance) is refused and does not move it, an older one only adds its close.
import { BitPredictError } from '../../core/errors.js';
import { INTERVAL_LEVELS, QUANTILE_LEVELS, distributionProblem } from '../../core/forecast/distribution.js';
import { brier, intervalOf, pinballLoss, qlike } from '../../core/forecast/scoring.js';
import { seriesKey } from '../../schemas/keys.js';
import type { Prediction, Score } from '../../schemas/types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The rolling windows of target time every forecaster is scored over: 24 h, 7 d, 30 d. */
export const SCORE_WINDOWS_MS: readonly number[] = Object.freeze([DAY, 7 * DAY, 30 * DAY]);
/** The window the degradation trigger of the retrain logic reads. */
export const DEGRADATION_WINDOW_MS = 7 * DAY;
/** The baseline skill is measured against. */
export const PERSISTENCE = 'persistence';

/** One forecast of one horizon, as the monitor scores it. */
export interface Forecast {
  symbol: string;
  interval: string;
  modelName: string;
  modelVersion: string;
  isBaseline: boolean;
  /** Event time of the feature vector the forecast was made from. */
  originTime: number;
  horizonSteps: number;
  targetTime: number;
  mean: number;
  /** Null for point forecasts (predictions of schema version 1). */
  scale: number | null;
  /** Quantiles at `levels`; null for point forecasts. */
  quantiles: number[] | null;
  levels: readonly number[];
  probUp: number;
}

/** The forecasts a prediction record carries: one per horizon; a schema-1 record is a horizon-1 point forecast. */
export function forecastsOf(p: Prediction): Forecast[] {
  const base = {
    symbol: p.symbol,
    interval: p.interval,
    modelName: p.modelName,
    modelVersion: p.modelVersion,
    isBaseline: p.isBaseline,
    originTime: p.eventTime,
  };
  if (p.horizons.length === 0) {
    const point = { horizonSteps: p.horizonSteps, targetTime: p.targetTime, mean: p.predictedLogReturn, scale: null, quantiles: null, probUp: p.probUp };
    return [{ ...base, ...point, levels: [] }];
  }
  const levels = p.quantileLevels.length > 0 ? p.quantileLevels : QUANTILE_LEVELS;
  return p.horizons.map((h) => ({
    ...base,
    horizonSteps: h.horizonSteps,
    targetTime: h.targetTime,
    mean: h.mean,
    scale: h.scale,
    quantiles: h.quantiles,
    levels,
    probUp: h.probUp,
  }));
}

/** Why a forecast cannot be scored (null when it can). */
export function forecastProblem(f: Forecast): string | null {
  if (!f.symbol || !f.interval || !f.modelName) return 'symbol, interval and modelName must be non-empty';
  if (!Number.isSafeInteger(f.horizonSteps) || f.horizonSteps < 1) return `horizonSteps ${f.horizonSteps} must be an integer >= 1`;
  if (!Number.isSafeInteger(f.originTime) || !Number.isSafeInteger(f.targetTime))
    return `times must be integers (origin ${f.originTime}, target ${f.targetTime})`;
  const span = f.targetTime - f.originTime;
  if (span <= 0 || span % f.horizonSteps !== 0) return `targetTime - originTime = ${span} ms is not a positive multiple of ${f.horizonSteps} steps`;
  if (f.scale === null || f.quantiles === null) {
    if (!Number.isFinite(f.mean)) return `mean ${f.mean} is not finite`;
    if (!(f.probUp >= 0 && f.probUp <= 1)) return `probUp ${f.probUp} is not in [0, 1]`;
    return null;
  }
  return distributionProblem({ mean: f.mean, scale: f.scale, quantiles: f.quantiles, probUp: f.probUp }, f.levels);
}

/** One resolved forecast: its losses, or only its target time when the outcome is missing. */
interface Item {
  targetTime: number;
  version: string;
  /** Null: the outcome is missing (gap). */
  y: number | null;
  pinball: number | null;
  qlike: number | null;
  se: number;
  brier: number;
  /** Per INTERVAL_LEVELS: 1/0 inside, null when the forecast has no such interval. */
  inside: (number | null)[];
  width: (number | null)[];
}

interface Track {
  symbol: string;
  interval: string;
  modelName: string;
  isBaseline: boolean;
  horizonSteps: number;
  /** Version of the forecast with the newest target time. */
  version: string;
  newest: number;
  items: Map<number, Item>;
  /** Target times of `items`, ascending. */
  times: number[];
}

interface SeriesState {
  symbol: string;
  interval: string;
  /** Newest event time seen on the features stream; -Infinity before the first. */
  clock: number;
  /** Oldest event time the monitor has seen: forecasts from before it cannot be judged. */
  first: number;
  closes: Map<number, number>;
  /** Pending forecasts by target time, then by `<modelName>|<horizonSteps>`. */
  pending: Map<number, Map<string, Forecast>>;
  tracks: Map<string, Track>;
  /** Longest origin-to-target span seen: closes are kept this much longer than the windows. */
  maxSpan: number;
}

export type ForecastOutcome = 'pending' | 'scored' | 'missing' | 'duplicate' | 'stale' | 'unknown-origin' | 'future';
export type ObserveOutcome = 'advanced' | 'late' | 'duplicate' | 'future';

export interface Degradation {
  modelName: string;
  modelVersion: string;
  horizonSteps: number;
  against: string;
  lossKind: 'pinball' | 'squared-error';
  /** loss / reference loss - 1 on the common target times (positive: worse). */
  relative: number;
  samples: number;
}

export interface MonitorStats {
  pending: number;
  tracks: number;
  closes: number;
  droppedPending: number;
  refusedFuture: number;
}

export interface ForecastMonitor {
  /** Registers one forecast (checked: ERR_FORECAST_INVALID when it cannot be scored). */
  forecast(f: Forecast): ForecastOutcome;
  /** A closed candle of a series: its close at eventTime. Resolves the forecasts whose target it passes. */
  observe(symbol: string, interval: string, eventTime: number, close: number): { outcome: ObserveOutcome; resolved: number };
  /** Scores of every (forecaster, horizon, window) that changed since the last call, stamped computedAt. */
  takeChanged(computedAt: number): Score[];
  /**
   * Whether a non-baseline forecaster of the series (only its newest version's forecasts) is worse
   * than persistence or the best other baseline by more than `threshold` (0.05 = 5 % higher loss)
   * over the 7 d window on at least `minSamples` common target times; the worst such case, or null.
   */
  degradation(symbol: string, interval: string, threshold: number, minSamples: number): Degradation | null;
  stats(): MonitorStats;
}

export interface MonitorOptions {
  /** Rolling windows of target time (default 24 h, 7 d, 30 d). */
  windowsMs?: readonly number[];
  /** Pending forecasts kept across all series (default 100,000). */
  maxPending?: number;
  /** Closes kept per series at most (default 100,000), whatever their time. */
  maxCloses?: number;
  /** Wall clock; vectors and forecasts made more than `maxAheadMs` after it are refused. */
  now?: () => number;
  maxAheadMs?: number;
}

/** The realised log return of a forecast, null when a close between origin and target is missing. */
function realised(s: SeriesState, f: Forecast): number | null {
  const c0 = s.closes.get(f.originTime);
  const c1 = s.closes.get(f.targetTime);
  if (c0 === undefined || c1 === undefined) return null;
  const step = (f.targetTime - f.originTime) / f.horizonSteps;
  for (let k = 1; k < f.horizonSteps; k++) if (!s.closes.has(f.originTime + k * step)) return null;
  return Math.log(c1 / c0);
}

/** The scored item of a forecast against outcome y (null: missing). */
function itemOf(f: Forecast, y: number | null): Item {
  const item: Item = { targetTime: f.targetTime, version: f.modelVersion, y, pinball: null, qlike: null, se: 0, brier: 0, inside: [], width: [] };
  if (y === null) return item;
  item.se = (f.mean - y) ** 2;
  item.brier = brier(f.probUp, y > 0);
  if (f.scale !== null) item.qlike = qlike(f.scale, y);
  if (f.quantiles !== null) {
    item.pinball = pinballLoss(f.quantiles, y, f.levels);
    for (const level of INTERVAL_LEVELS) {
      const iv = hasInterval(f.levels, level) ? intervalOf(f.quantiles, level, f.levels) : null;
      item.inside.push(iv === null ? null : y >= iv.lo && y <= iv.hi ? 1 : 0);
      item.width.push(iv === null ? null : iv.hi - iv.lo);
    }
  }
  return item;
}

function hasInterval(levels: readonly number[], level: number): boolean {
  const near = (p: number) => levels.some((l) => Math.abs(l - p) < 1e-9);
  return near((1 - level) / 2) && near((1 + level) / 2);
}

/** Inserts t into the ascending array (usually at the end: targets arrive nearly in order). */
function insertSorted(a: number[], t: number): void {
  let i = a.length;
  while (i > 0 && a[i - 1]! > t) i--;
  a.splice(i, 0, t);
}

/** Scored items of a track with target time in (to - windowMs, to], newest first. */
function* inWindow(track: Track, to: number, windowMs: number): Generator<Item> {
  for (let i = track.times.length - 1; i >= 0; i--) {
    const t = track.times[i]!;
    if (t <= to - windowMs) return;
    if (t > to) continue;
    yield track.items.get(t)!;
  }
}

interface Comparison {
  kind: 'pinball' | 'squared-error';
  n: number;
  loss: number;
  refLoss: number;
}

/**
 * Mean losses of a track and a reference on the target times both scored inside the window: the
 * pinball loss when every such pair carries quantiles, else the squared error of the mean.
 */
function compare(x: Track, ref: Track, to: number, windowMs: number, version?: string): Comparison | null {
  const pairs: [Item, Item][] = [];
  for (const a of inWindow(x, to, windowMs)) {
    if (a.y === null || (version !== undefined && a.version !== version)) continue;
    const b = ref.items.get(a.targetTime);
    if (b && b.y !== null) pairs.push([a, b]);
  }
  if (pairs.length === 0) return null;
  const pinball = pairs.every(([a, b]) => a.pinball !== null && b.pinball !== null);
  let loss = 0;
  let refLoss = 0;
  for (const [a, b] of pairs) {
    loss += pinball ? a.pinball! : a.se;
    refLoss += pinball ? b.pinball! : b.se;
  }
  return { kind: pinball ? 'pinball' : 'squared-error', n: pairs.length, loss: loss / pairs.length, refLoss: refLoss / pairs.length };
}

const trackKey = (modelName: string, horizonSteps: number): string => `${modelName}|${horizonSteps}`;

const meanOf = (xs: number[]): number | null => (xs.length === 0 ? null : xs.reduce((s, v) => s + v, 0) / xs.length);

/** The best other baseline of the same horizon: the lowest mean loss on the target times it shares with `x`. */
function bestBaseline(s: SeriesState, x: Track, to: number, windowMs: number): { name: string; c: Comparison } | null {
  let best: { name: string; c: Comparison } | null = null;
  for (const b of s.tracks.values()) {
    if (!b.isBaseline || b === x || b.horizonSteps !== x.horizonSteps) continue;
    const c = compare(x, b, to, windowMs);
    if (c !== null && (best === null || c.refLoss < best.c.refLoss)) best = { name: b.modelName, c };
  }
  return best;
}

const skill = (c: Comparison | null): number | null => (c === null || !(c.refLoss > 0) ? null : 1 - c.loss / c.refLoss);

/** The Score of one track over one window ending at the series clock; null when the window holds nothing. */
function scoreOf(s: SeriesState, x: Track, windowMs: number, computedAt: number): Score | null {
  let samples = 0;
  let missing = 0;
  const pin: number[] = [];
  const ql: number[] = [];
  const se: number[] = [];
  const br: number[] = [];
  const inside = INTERVAL_LEVELS.map((): number[] => []);
  const width = INTERVAL_LEVELS.map((): number[] => []);
  for (const it of inWindow(x, s.clock, windowMs)) {
    if (it.y === null) {
      missing++;
      continue;
    }
    samples++;
    if (it.pinball !== null) pin.push(it.pinball);
    if (it.qlike !== null) ql.push(it.qlike);
    se.push(it.se);
    br.push(it.brier);
    it.inside.forEach((v, k) => {
      if (v !== null) inside[k]!.push(v);
      const w = it.width[k];
      if (w !== null && w !== undefined) width[k]!.push(w);
    });
  }
  if (samples === 0 && missing === 0) return null;
  const persistence = s.tracks.get(trackKey(PERSISTENCE, x.horizonSteps));
  const best = bestBaseline(s, x, s.clock, windowMs);
  const coverage = INTERVAL_LEVELS.flatMap((level, k) => {
    const c = meanOf(inside[k]!);
    const w = meanOf(width[k]!);
    return c === null || w === null ? [] : [{ level, coverage: c, meanWidth: w }];
  });
  return {
    symbol: s.symbol,
    interval: s.interval,
    modelName: x.modelName,
    modelVersion: x.version,
    isBaseline: x.isBaseline,
    horizonSteps: x.horizonSteps,
    windowMs,
    eventTime: s.clock,
    samples,
    missing,
    pinballLoss: meanOf(pin),
    scaleLoss: meanOf(ql),
    meanSquaredError: meanOf(se),
    brierScore: meanOf(br),
    coverage,
    skillVsPersistence: persistence === undefined || persistence === x ? null : skill(compare(x, persistence, s.clock, windowMs)),
    skillVsBestBaseline: skill(best?.c ?? null),
    bestBaseline: best?.name ?? null,
    computedAt,
  };
}

/** A series the monitor has not seen before. maxSpan starts at a day, so closes a 24 h horizon needs survive the trim before its forecast arrives. */
function newSeries(symbol: string, interval: string): SeriesState {
  return { symbol, interval, clock: -Infinity, first: Infinity, closes: new Map(), pending: new Map(), tracks: new Map(), maxSpan: DAY };
}

/** The rolling track of one forecaster at one horizon of a series. */
function newTrack(s: SeriesState, f: Forecast): Track {
  return {
    symbol: s.symbol,
    interval: s.interval,
    modelName: f.modelName,
    isBaseline: f.isBaseline,
    horizonSteps: f.horizonSteps,
    version: f.modelVersion,
    newest: -Infinity,
    items: new Map(),
    times: [],
  };
}

/** Drops what no window can need any more: items older than the longest window, closes older than that plus the longest span. */
function trim(s: SeriesState, maxWindow: number, maxCloses: number): void {
  const itemsBefore = s.clock - maxWindow;
  for (const track of s.tracks.values()) {
    let n = 0;
    while (n < track.times.length && track.times[n]! <= itemsBefore) track.items.delete(track.times[n++]!);
    if (n > 0) track.times.splice(0, n);
  }
  const closesBefore = itemsBefore - s.maxSpan;
  // Closes arrive in event-time order, so the oldest are first in the Map; a late one is caught by the cap.
  for (const t of s.closes.keys()) {
    if (t > closesBefore && s.closes.size <= maxCloses) break;
    s.closes.delete(t);
  }
}

/** The champion's worst excess loss over a baseline on their shared target times in the degradation window, beyond the threshold. */
function worstDegradation(s: SeriesState, threshold: number, minSamples: number): Degradation | null {
  let worst: Degradation | null = null;
  for (const x of s.tracks.values()) {
    if (x.isBaseline) continue;
    for (const ref of s.tracks.values()) {
      if (!ref.isBaseline || ref.horizonSteps !== x.horizonSteps) continue;
      const c = compare(x, ref, s.clock, DEGRADATION_WINDOW_MS, x.version);
      if (c === null || c.n < minSamples || !(c.refLoss > 0)) continue;
      const relative = c.loss / c.refLoss - 1;
      // Worse than some baseline by more than the threshold is worse than the best one by at least as much.
      if (relative > threshold && (worst === null || relative > worst.relative))
        worst = {
          modelName: x.modelName,
          modelVersion: x.version,
          horizonSteps: x.horizonSteps,
          against: ref.modelName,
          lossKind: c.kind,
          relative,
          samples: c.n,
        };
    }
  }
  return worst;
}

/** The pending forecasts whose target time the series clock has reached, removed from pending. */
function takeDue(s: SeriesState): Forecast[] {
  const due: Forecast[] = [];
  for (const [t, bucket] of s.pending) {
    if (t > s.clock) continue;
    due.push(...bucket.values());
    s.pending.delete(t);
  }
  return due;
}

/** Drops `excess` pending forecasts with the farthest target times over all series; returns how many went. */
function dropFarthest(all: Iterable<SeriesState>, excess: number): number {
  const list = [...all];
  let dropped = 0;
  while (dropped < excess) {
    let far: { s: SeriesState; t: number } | null = null;
    for (const s of list) for (const t of s.pending.keys()) if (far === null || t > far.t) far = { s, t };
    if (far === null) break;
    const bucket = far.s.pending.get(far.t)!;
    const [first] = bucket.keys();
    bucket.delete(first!);
    if (bucket.size === 0) far.s.pending.delete(far.t);
    dropped++;
  }
  return dropped;
}

/** The scores of every changed track over every window. */
function scoresOf(series: Map<string, SeriesState>, changed: Iterable<Track>, windows: readonly number[], computedAt: number): Score[] {
  const out: Score[] = [];
  for (const track of changed) {
    const s = series.get(seriesKey(track.symbol, track.interval))!;
    for (const w of windows) {
      const sc = scoreOf(s, track, w, computedAt);
      if (sc) out.push(sc);
    }
  }
  return out;
}

/** Tracks and closes held, over all series. */
function sizes(all: Iterable<SeriesState>): { tracks: number; closes: number } {
  let tracks = 0;
  let closes = 0;
  for (const s of all) {
    tracks += s.tracks.size;
    closes += s.closes.size;
  }
  return { tracks, closes };
}

export function createForecastMonitor(opts: MonitorOptions = {}): ForecastMonitor {
  const windows = opts.windowsMs ?? SCORE_WINDOWS_MS;
  if (windows.length === 0 || windows.some((w) => !Number.isSafeInteger(w) || w < 1))
    throw new BitPredictError('ERR_VALIDATION', `monitor windows [${windows.join(', ')}] must be positive integers (ms)`);
  const maxWindow = Math.max(...windows);
  const maxPending = opts.maxPending ?? 100_000;
  const maxCloses = opts.maxCloses ?? 100_000;
  const maxAheadMs = opts.maxAheadMs ?? HOUR;
  const series = new Map<string, SeriesState>();
  const changed = new Set<Track>();
  let pendingCount = 0;
  let droppedPending = 0;
  let refusedFuture = 0;

  const isFuture = (t: number): boolean => opts.now !== undefined && t > opts.now() + maxAheadMs;

  function seriesOf(symbol: string, interval: string): SeriesState {
    const k = seriesKey(symbol, interval);
    let s = series.get(k);
    if (!s) {
      s = newSeries(symbol, interval);
      series.set(k, s);
    }
    return s;
  }

  function trackOf(s: SeriesState, f: Forecast): Track {
    const k = trackKey(f.modelName, f.horizonSteps);
    let t = s.tracks.get(k);
    if (!t) {
      t = newTrack(s, f);
      s.tracks.set(k, t);
    }
    return t;
  }

  /** Records the outcome of a forecast whose target the series clock has reached. */
  function resolve(s: SeriesState, f: Forecast): 'scored' | 'missing' {
    const track = trackOf(s, f);
    const item = itemOf(f, realised(s, f));
    track.items.set(f.targetTime, item);
    insertSorted(track.times, f.targetTime);
    if (f.targetTime >= track.newest) {
      track.newest = f.targetTime;
      track.version = f.modelVersion;
      track.isBaseline = f.isBaseline;
    }
    changed.add(track);
    return item.y === null ? 'missing' : 'scored';
  }

  /** Keeps the pending forecasts under the cap: the farthest target times go first (the least likely to resolve soon). */
  function capPending(): void {
    const dropped = dropFarthest(series.values(), pendingCount - maxPending);
    pendingCount -= dropped;
    droppedPending += dropped;
  }

  return {
    forecast(f) {
      const problem = forecastProblem(f);
      if (problem !== null) throw new BitPredictError('ERR_FORECAST_INVALID', `forecast of ${f.modelName} for ${f.symbol}:${f.interval}: ${problem}`);
      if (isFuture(f.originTime)) {
        refusedFuture++;
        return 'future';
      }
      const s = seriesOf(f.symbol, f.interval);
      const k = trackKey(f.modelName, f.horizonSteps);
      if (s.tracks.get(k)?.items.has(f.targetTime) || s.pending.get(f.targetTime)?.has(k)) return 'duplicate';
      // Outside every window, or made from a vector before the monitor's first: nothing to judge it by.
      if (f.targetTime <= s.clock - maxWindow) return 'stale';
      if (f.originTime < s.first && s.clock >= f.targetTime) return 'unknown-origin';
      s.maxSpan = Math.max(s.maxSpan, f.targetTime - f.originTime);
      if (s.clock >= f.targetTime) return resolve(s, f);
      let bucket = s.pending.get(f.targetTime);
      if (!bucket) s.pending.set(f.targetTime, (bucket = new Map<string, Forecast>()));
      bucket.set(k, f);
      pendingCount++;
      capPending();
      return 'pending';
    },

    observe(symbol, interval, eventTime, close) {
      if (!Number.isSafeInteger(eventTime))
        throw new BitPredictError('ERR_VALIDATION', `vector of ${symbol}:${interval}: event time ${eventTime} is not an integer`);
      if (!(close > 0) || !Number.isFinite(close))
        throw new BitPredictError('ERR_VALIDATION', `vector of ${symbol}:${interval} at ${eventTime}: close ${close} is not a positive number`);
      if (isFuture(eventTime)) {
        refusedFuture++;
        return { outcome: 'future', resolved: 0 };
      }
      const s = seriesOf(symbol, interval);
      if (s.closes.has(eventTime)) return { outcome: 'duplicate', resolved: 0 };
      s.closes.set(eventTime, close);
      s.first = Math.min(s.first, eventTime);
      if (eventTime <= s.clock) return { outcome: 'late', resolved: 0 };
      s.clock = eventTime;
      const due = takeDue(s);
      pendingCount -= due.length;
      // A forecast made before the monitor saw the series cannot be judged either way.
      for (const f of due) if (f.originTime >= s.first) resolve(s, f);
      const resolved = due.length;
      trim(s, maxWindow, maxCloses);
      return { outcome: 'advanced', resolved };
    },

    takeChanged(computedAt) {
      const out = scoresOf(series, changed, windows, computedAt);
      changed.clear();
      return out;
    },

    degradation(symbol, interval, threshold, minSamples) {
      const s = series.get(seriesKey(symbol, interval));
      return s ? worstDegradation(s, threshold, minSamples) : null;
    },

    stats() {
      return { pending: pendingCount, ...sizes(series.values()), droppedPending, refusedFuture };
    },
  };
}
