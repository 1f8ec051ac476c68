// Scores a baseline run per baseline and horizon: the summary of the proper scores, Kupiec's test
// of the 80 and 90 % intervals, and Diebold-Mariano against a reference baseline on the MSE of |r|
// and on the pinball loss (pairs where the outcome is known); and scoreHorizon, which scores the
// model beside every baseline for the walk-forward and final evaluations. Pure code.
import { BitPredictError } from '../errors.js';
import { INTERVAL_LEVELS, distributionProblem, type ForecastDistribution } from './distribution.js';
import type { BaselineItem, BaselineRun } from './bank.js';
import type { BaselineName } from './baselines.js';
import { brier, intervalOf, logLoss, pinballLoss, qlike, summarise, type ScoreSummary } from './scoring.js';
import { christoffersen, dieboldMariano, kupiec } from './stats.js';

export interface EvaluationRow {
  name: BaselineName;
  h: number;
  summary: ScoreSummary;
  /** Kupiec p-value per INTERVAL_LEVELS. */
  kupiecP: number[];
  /** DM of this baseline against the reference (negative stat = this one better); null for the reference itself. */
  dmMse: { stat: number; pValue: number } | null;
  dmPinball: { stat: number; pValue: number } | null;
}

const mseLoss = (x: BaselineItem): number => (Math.abs(x.y!) - x.d.scale) ** 2;
const pinLoss = (x: BaselineItem): number => pinballLoss(x.d.quantiles, x.y!);

export function evaluateRun(run: BaselineRun, reference: BaselineName = 'persistence'): EvaluationRow[] {
  const rows: EvaluationRow[] = [];
  const ref = run.forecasts.get(reference);
  for (const [name, byH] of run.forecasts)
    for (const [h, items] of byH) {
      const known = items.filter((x) => x.y !== null);
      const summary = summarise(items);
      const kupiecP = INTERVAL_LEVELS.map((level) => {
        const hits = known.filter((x) => {
          const { lo, hi } = intervalOf(x.d.quantiles, level);
          return x.y! >= lo && x.y! <= hi;
        }).length;
        return known.length > 0 ? kupiec(hits, known.length, level).pValue : Number.NaN;
      });
      let dmMse = null;
      let dmPinball = null;
      const refItems = ref?.get(h);
      if (name !== reference && refItems !== undefined && known.length >= 2 * h + 3) {
        const refKnown = refItems.filter((x) => x.y !== null); // the same times: outcomes do not depend on the forecaster
        const dm = (loss: (x: BaselineItem) => number): { stat: number; pValue: number } => {
          const r = dieboldMariano(known.map(loss), refKnown.map(loss), h);
          return { stat: r.stat, pValue: r.pValue };
        };
        dmMse = dm(mseLoss);
        dmPinball = dm(pinLoss);
      }
      rows.push({ name, h, summary, kupiecP, dmMse, dmPinball });
    }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Scoring every forecaster of an evaluation side by side (the walk-forward and the final run)
// ---------------------------------------------------------------------------------------------

/** One forecast to score: its distribution, the realised h-step log return (null = missing: a gap), and its PIT (null when y is). */
export interface ScoredItem {
  time: number;
  d: ForecastDistribution;
  y: number | null;
  pit: number | null;
}

/** The losses the Diebold-Mariano test is run on. mseAbs = (|y| - scale)^2. */
export const LOSS_NAMES = ['pinball', 'qlike', 'mseAbs', 'brier'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

export interface DmResult {
  n: number;
  /** mean loss(this) - loss(other): negative = this one is better */
  meanDiff: number;
  stat: number;
  pValue: number;
}

export interface CoverageRow {
  level: number;
  coverage: number;
  meanWidth: number;
  /** Kupiec's unconditional coverage test over every known outcome */
  kupiecP: number;
  /** Christoffersen's independence and conditional coverage tests; for h > 1 on every h-th known outcome (non-overlapping) */
  christoffersenIndP: number | null;
  christoffersenCcP: number | null;
}

export interface ReliabilityBin {
  /** mean forecast P(up) in the bin */
  p: number;
  /** observed share of up outcomes */
  observed: number;
  n: number;
}

export interface ForecasterScores {
  name: string;
  kind: 'model' | 'baseline';
  summary: ScoreSummary;
  coverage: CoverageRow[];
  /** PIT histogram: counts in PIT_BINS equal bins of [0, 1] */
  pit: number[];
  reliability: ReliabilityBin[];
  /** DM of this forecaster's loss against each baseline's (other than itself), per loss */
  dm: Record<string, Partial<Record<LossName, DmResult>>>;
  /** DM of this forecaster's Brier score against climatology's */
  dmBrierVsClimatology: DmResult | null;
}

export interface HorizonScores {
  h: number;
  /** known outcomes / missing outcomes (gaps), the same for every forecaster */
  n: number;
  missing: number;
  /** climatology: P(up) = the training range's up share of h-step returns */
  climatology: { brier: number | null; logLoss: number | null; meanProbUp: number | null };
  /** per loss, the baseline with the lowest mean loss (null when no baseline scored) */
  bestBaseline: Record<LossName, string | null>;
  forecasters: ForecasterScores[];
}

export const PIT_BINS = 10;
export const RELIABILITY_BINS = 10;

const LOSSES: Record<LossName, (x: ScoredItem) => number> = {
  pinball: (x) => pinballLoss(x.d.quantiles, x.y!),
  qlike: (x) => qlike(x.d.scale, x.y!),
  mseAbs: (x) => (Math.abs(x.y!) - x.d.scale) ** 2,
  brier: (x) => brier(x.d.probUp, x.y! > 0),
};

/** Counts of PIT values in `bins` equal bins of [0, 1] (a 1 falls in the last bin). */
export function pitHistogram(pits: readonly number[], bins = PIT_BINS): number[] {
  const out = new Array<number>(bins).fill(0);
  for (const u of pits) {
    if (!(u >= 0 && u <= 1)) throw new BitPredictError('ERR_VALIDATION', `PIT value ${u} is not in [0, 1]`);
    out[Math.min(bins - 1, Math.floor(u * bins))]!++;
  }
  return out;
}

/**
 * Reliability diagram of P(up): the forecasts sorted by P(up) and cut into `bins` groups of equal
 * count (forecasts of a market's direction crowd near 0.5, where equal-width bins would put nearly
 * everything in one or two bins); per group the mean P(up) and the observed up share.
 */
export function reliabilityBins(probUp: readonly number[], up: readonly boolean[], bins = RELIABILITY_BINS): ReliabilityBin[] {
  if (probUp.length !== up.length) throw new BitPredictError('ERR_VALIDATION', `reliability: ${probUp.length} probabilities but ${up.length} outcomes`);
  for (const p of probUp) if (!(p >= 0 && p <= 1)) throw new BitPredictError('ERR_VALIDATION', `reliability: probability ${p} is not in [0, 1]`);
  const n = probUp.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probUp[a]! - probUp[b]!);
  const k = Math.min(bins, n);
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < k; b++) {
    const from = Math.floor((b * n) / k);
    const to = Math.floor(((b + 1) * n) / k);
    let sp = 0;
    let su = 0;
    for (let j = from; j < to; j++) {
      sp += probUp[order[j]!]!;
      su += up[order[j]!]! ? 1 : 0;
    }
    if (to > from) out.push({ p: sp / (to - from), observed: su / (to - from), n: to - from });
  }
  return out;
}

function coverageRows(known: readonly ScoredItem[], h: number): CoverageRow[] {
  return INTERVAL_LEVELS.map((level) => {
    let widths = 0;
    const inside = known.map((x) => {
      const { lo, hi } = intervalOf(x.d.quantiles, level);
      widths += hi - lo;
      return x.y! >= lo && x.y! <= hi;
    });
    const hits = inside.filter(Boolean).length;
    // Overlapping h-step outcomes make consecutive hits dependent by construction: the independence
    // test would reject any h > 1 forecaster, so it sees every h-th outcome only.
    const spaced = inside.filter((_, i) => i % h === 0);
    const cc = spaced.length >= 2 ? christoffersen(spaced, level) : null;
    return {
      level,
      coverage: hits / known.length,
      meanWidth: widths / known.length,
      kupiecP: kupiec(hits, known.length, level).pValue,
      christoffersenIndP: cc?.pValueInd ?? null,
      christoffersenCcP: cc?.pValueCc ?? null,
    };
  });
}

function dmOf(a: readonly number[], b: readonly number[], h: number): DmResult | null {
  if (a.length < Math.max(3, 2 * h)) return null;
  const r = dieboldMariano(a, b, h);
  return { n: r.n, meanDiff: r.meanDiff, stat: r.stat, pValue: r.pValue };
}

/**
 * Scores every forecaster of one horizon on the same forecast times: the proper scores, coverage
 * with Kupiec and Christoffersen, the PIT histogram, the reliability diagram, and the Diebold-
 * Mariano (HLN, h - 1 Newey-West lags) test of each loss against every baseline and of the Brier
 * score against climatology. `climatology[i]` is the climatological P(up) of forecast time i.
 * A missing outcome (y = null) is counted, never scored; the DM pairs are the known outcomes, so
 * a series with gaps is tested on its known stretches joined.
 */
export function scoreHorizon(
  h: number,
  forecasters: readonly { name: string; kind: 'model' | 'baseline'; items: readonly ScoredItem[] }[],
  climatology: readonly number[],
): HorizonScores {
  if (!Number.isSafeInteger(h) || h < 1) throw new BitPredictError('ERR_VALIDATION', `horizon ${h} is not a positive integer`);
  const first = forecasters[0];
  if (first === undefined) throw new BitPredictError('ERR_VALIDATION', `horizon ${h}: no forecaster to score`);
  const times = first.items.map((x) => x.time);
  for (const f of forecasters) {
    if (f.items.length !== times.length || f.items.some((x, i) => x.time !== times[i] || (x.y === null) !== (first.items[i]!.y === null)))
      throw new BitPredictError('ERR_VALIDATION', `horizon ${h}: forecaster "${f.name}" is not aligned with "${first.name}" (same times and outcomes needed)`);
    for (const x of f.items) {
      const problem = distributionProblem(x.d);
      if (problem !== null) throw new BitPredictError('ERR_FORECAST_INVALID', `horizon ${h}: cannot score "${f.name}" at ${x.time}: ${problem}`);
    }
  }
  if (climatology.length !== times.length)
    throw new BitPredictError('ERR_VALIDATION', `horizon ${h}: ${climatology.length} climatology probabilities for ${times.length} forecasts`);
  const knownIdx = times.map((_, i) => i).filter((i) => first.items[i]!.y !== null);
  const n = knownIdx.length;
  if (n === 0) throw new BitPredictError('ERR_VALIDATION', `horizon ${h}: no forecast has a known outcome`);
  const ys = knownIdx.map((i) => first.items[i]!.y!);
  const climLoss = knownIdx.map((i, k) => brier(climatology[i]!, ys[k]! > 0));
  const climLl = knownIdx.map((i, k) => logLoss(climatology[i]!, ys[k]! > 0));
  const mean = (a: readonly number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
  const losses = forecasters.map((f) => {
    const known = knownIdx.map((i) => f.items[i]!);
    return { f, known, loss: Object.fromEntries(LOSS_NAMES.map((l) => [l, known.map(LOSSES[l])])) as Record<LossName, number[]> };
  });
  const baselines = losses.filter((x) => x.f.kind === 'baseline');
  const bestBaseline = Object.fromEntries(
    LOSS_NAMES.map((l) => {
      let best: string | null = null;
      let bestMean = Infinity;
      for (const b of baselines) {
        const m = mean(b.loss[l]);
        if (m < bestMean) [best, bestMean] = [b.f.name, m];
      }
      return [l, best];
    }),
  ) as Record<LossName, string | null>;
  const scores: ForecasterScores[] = losses.map(({ f, known, loss }) => {
    const dm: ForecasterScores['dm'] = {};
    for (const b of baselines) {
      if (b.f.name === f.name) continue;
      const row: Partial<Record<LossName, DmResult>> = {};
      for (const l of LOSS_NAMES) {
        const r = dmOf(loss[l], b.loss[l], h);
        if (r !== null) row[l] = r;
      }
      dm[b.f.name] = row;
    }
    return {
      name: f.name,
      kind: f.kind,
      summary: summarise(f.items),
      coverage: coverageRows(known, h),
      pit: pitHistogram(known.map((x) => x.pit ?? Number.NaN)),
      reliability: reliabilityBins(
        known.map((x) => x.d.probUp),
        ys.map((y) => y > 0),
      ),
      dm,
      dmBrierVsClimatology: dmOf(loss.brier, climLoss, h),
    };
  });
  return {
    h,
    n,
    missing: times.length - n,
    climatology: { brier: mean(climLoss), logLoss: mean(climLl), meanProbUp: mean(knownIdx.map((i) => climatology[i]!)) },
    bestBaseline,
    forecasters: scores,
  };
}
