// Checks of everything the gateway sends before the page uses it. A record that is not what the
// contract says (a missing field, a number that is not finite: JSON can carry 1e999, which parses
// to Infinity) is refused as a whole and counted by the caller; a forecast horizon with bad
// numbers is dropped from its prediction. Nothing here throws.
import type { Candle, Champion, Feature, HorizonForecast, IntervalCoverage, ModelsInfo, Prediction, Score } from './types.js';

type Obj = Record<string, unknown>;

export function isObject(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A finite number, or undefined. */
export function finite(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

/** A finite number, or null (absent, null, or not finite: an indicator that is missing). */
function optional(x: unknown): number | null {
  return finite(x) ?? null;
}

/** An epoch-ms time: a finite integer in Date's range. */
function time(x: unknown): number | undefined {
  const n = finite(x);
  return n !== undefined && Number.isInteger(n) && Math.abs(n) <= 8.64e15 ? n : undefined;
}

function text(x: unknown): string | undefined {
  return typeof x === 'string' && x.length > 0 && x.length <= 200 ? x : undefined;
}

export function parseCandle(x: unknown): Candle | null {
  if (!isObject(x)) return null;
  const symbol = text(x.symbol);
  const interval = text(x.interval);
  const openTime = time(x.openTime);
  const closeTime = time(x.closeTime);
  const [open, high, low, close] = [finite(x.open), finite(x.high), finite(x.low), finite(x.close)];
  const volume = finite(x.volume);
  if (symbol === undefined || interval === undefined || openTime === undefined || closeTime === undefined || closeTime <= openTime) return null;
  if (open === undefined || high === undefined || low === undefined || close === undefined || volume === undefined || volume < 0) return null;
  // A candle whose high is below its low, or whose open or close lies outside them, is corrupt.
  if (low <= 0 || high < low || open < low || open > high || close < low || close > high) return null;
  return { symbol, interval, openTime, closeTime, open, high, low, close, volume };
}

export function parseFeature(x: unknown): Feature | null {
  if (!isObject(x)) return null;
  const symbol = text(x.symbol);
  const interval = text(x.interval);
  const eventTime = time(x.eventTime);
  const openTime = time(x.openTime);
  const close = finite(x.close);
  if (symbol === undefined || interval === undefined || eventTime === undefined || openTime === undefined || close === undefined) return null;
  return {
    symbol,
    interval,
    eventTime,
    openTime,
    close,
    sma10: optional(x.sma10),
    sma20: optional(x.sma20),
    sma50: optional(x.sma50),
    ema12: optional(x.ema12),
    ema26: optional(x.ema26),
    ema50: optional(x.ema50),
    rsi14: optional(x.rsi14),
    macd: optional(x.macd),
    macdSignal: optional(x.macdSignal),
    macdHist: optional(x.macdHist),
    bbWidth: optional(x.bbWidth),
    sentimentWindowMs: optional(x.sentimentWindowMs),
    textCount: optional(x.textCount),
    vaderMean: optional(x.vaderMean),
  };
}

function numbers(x: unknown): number[] | undefined {
  if (!Array.isArray(x)) return undefined;
  const out: number[] = [];
  for (const v of x) {
    const n = finite(v);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

function parseHorizon(x: unknown, levels: number): HorizonForecast | null {
  if (!isObject(x)) return null;
  const horizonSteps = finite(x.horizonSteps);
  const targetTime = time(x.targetTime);
  const mean = finite(x.mean);
  const scale = finite(x.scale);
  const probUp = finite(x.probUp);
  const predictedPrice = finite(x.predictedPrice);
  const quantiles = numbers(x.quantiles);
  if (horizonSteps === undefined || !Number.isInteger(horizonSteps) || horizonSteps < 1 || targetTime === undefined) return null;
  if (mean === undefined || scale === undefined || probUp === undefined || probUp < 0 || probUp > 1 || predictedPrice === undefined) return null;
  if (quantiles === undefined || quantiles.length !== levels) return null;
  for (let i = 1; i < quantiles.length; i++) if (quantiles[i]! < quantiles[i - 1]!) return null;
  return { horizonSteps, targetTime, mean, scale, quantiles, probUp, predictedPrice };
}

export function parsePrediction(x: unknown): Prediction | null {
  if (!isObject(x)) return null;
  const symbol = text(x.symbol);
  const interval = text(x.interval);
  const eventTime = time(x.eventTime);
  const targetTime = time(x.targetTime);
  const horizonSteps = finite(x.horizonSteps);
  const predictedLogReturn = finite(x.predictedLogReturn);
  const predictedPrice = finite(x.predictedPrice);
  const probUp = finite(x.probUp);
  const modelName = text(x.modelName);
  const modelVersion = text(x.modelVersion);
  if (symbol === undefined || interval === undefined || eventTime === undefined || targetTime === undefined || horizonSteps === undefined) return null;
  if (predictedLogReturn === undefined || predictedPrice === undefined || probUp === undefined || modelName === undefined || modelVersion === undefined)
    return null;
  if (typeof x.isBaseline !== 'boolean') return null;
  const quantileLevels = numbers(x.quantileLevels) ?? [];
  const horizons = Array.isArray(x.horizons) ? x.horizons.map((h) => parseHorizon(h, quantileLevels.length)).filter((h) => h !== null) : [];
  horizons.sort((a, b) => a.horizonSteps - b.horizonSteps);
  return {
    symbol,
    interval,
    eventTime,
    targetTime,
    horizonSteps,
    predictedLogReturn,
    predictedPrice,
    probUp,
    modelName,
    modelVersion,
    isBaseline: x.isBaseline,
    quantileLevels,
    horizons,
  };
}

function parseCoverage(x: unknown): IntervalCoverage[] {
  if (!Array.isArray(x)) return [];
  const out: IntervalCoverage[] = [];
  for (const c of x) {
    if (!isObject(c)) continue;
    const level = finite(c.level);
    const coverage = finite(c.coverage);
    const meanWidth = finite(c.meanWidth);
    if (level !== undefined && coverage !== undefined && meanWidth !== undefined) out.push({ level, coverage, meanWidth });
  }
  return out;
}

export function parseScore(x: unknown): Score | null {
  if (!isObject(x)) return null;
  const symbol = text(x.symbol);
  const interval = text(x.interval);
  const modelName = text(x.modelName);
  const modelVersion = text(x.modelVersion);
  const horizonSteps = finite(x.horizonSteps);
  const windowMs = finite(x.windowMs);
  const eventTime = time(x.eventTime);
  const samples = finite(x.samples);
  const missing = finite(x.missing);
  const computedAt = time(x.computedAt);
  if (symbol === undefined || interval === undefined || modelName === undefined || modelVersion === undefined || typeof x.isBaseline !== 'boolean') return null;
  if (horizonSteps === undefined || windowMs === undefined || windowMs <= 0 || eventTime === undefined || samples === undefined || samples < 0) return null;
  return {
    symbol,
    interval,
    modelName,
    modelVersion,
    isBaseline: x.isBaseline,
    horizonSteps,
    windowMs,
    eventTime,
    samples,
    missing: missing ?? 0,
    pinballLoss: optional(x.pinballLoss),
    coverage: parseCoverage(x.coverage),
    skillVsPersistence: optional(x.skillVsPersistence),
    skillVsBestBaseline: optional(x.skillVsBestBaseline),
    bestBaseline: text(x.bestBaseline) ?? null,
    computedAt: computedAt ?? eventTime,
  };
}

function parseChampion(x: unknown): Champion | null {
  if (!isObject(x)) return null;
  const version = text(x.version);
  const trainedFrom = time(x.trainedFrom);
  const trainedTo = time(x.trainedTo);
  const createdAt = time(x.createdAt);
  if (version === undefined || trainedFrom === undefined || trainedTo === undefined || createdAt === undefined) return null;
  return { version, trainedFrom, trainedTo, createdAt, backend: text(x.backend) ?? 'unknown', expiresAt: time(x.expiresAt) ?? null };
}

/** GET /v1/models; null when the answer is not the registry view. */
export function parseModels(x: unknown): ModelsInfo | null {
  if (!isObject(x)) return null;
  const name = text(x.name);
  if (name === undefined) return null;
  return { name, champion: parseChampion(x.champion), versionCount: Array.isArray(x.versions) ? x.versions.length : 0 };
}

/** The items of `list` that pass `parse`, and how many did not. */
export function parseAll<T>(list: unknown, parse: (x: unknown) => T | null): { items: T[]; rejected: number } {
  if (!Array.isArray(list)) return { items: [], rejected: 0 };
  const items: T[] = [];
  let rejected = 0;
  for (const x of list) {
    const v = parse(x);
    if (v === null) rejected++;
    else items.push(v);
  }
  return { items, rejected };
}
