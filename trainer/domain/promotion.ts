// Champion/challenger rule. All losses are the proper score of the forecast distribution (the mean
// pinball loss over the quantile grid, averaged over the horizons) on the SAME validation target
// times, lower is better:
// - with a champion, a challenger is promoted only if its loss is lower than the champion's by at
//   least `margin` (relative: 0.01 = 1 % lower) AND it is not worse than the best baseline
//   (persistence, EWMA, HAR-RV, GARCH fitted on the same training range): a model that loses to a
//   free baseline is never put in front of traders, however much it improves on an old champion;
// - without a champion, it must beat the best baseline by the margin.
// Pure code: the numbers come from trainer/retrain.ts.
import { BitPredictError } from '../../core/errors.js';

export interface PromotionInput {
  /** The challenger's validation loss. */
  challenger: number;
  /** The champion's loss on the same target times; null: there is no champion (or it could not be scored). */
  champion: number | null;
  /** Each baseline's loss on the same target times (at least one). */
  baselines: Readonly<Record<string, number>>;
  /** Relative improvement required, in [0, 1]. */
  margin: number;
  /** What the losses are, for the reason text (default 'pinball loss'). */
  measure?: string;
}

export interface PromotionDecision {
  promote: boolean;
  /** What the margin was measured against. */
  against: 'champion' | 'best baseline';
  /** Relative improvement over that reference: 1 - challenger / reference (positive = better). */
  improvement: number;
  /** The lowest-loss baseline and its loss. */
  bestBaseline: { name: string; loss: number };
  /** Relative improvement over the best baseline (positive = better). */
  improvementOverBaseline: number;
  /** One line with every number the decision used (recorded in the registry). */
  reason: string;
}

function checkLoss(name: string, v: unknown): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0))
    throw new BitPredictError('ERR_VALIDATION', `decidePromotion: ${name} = ${String(v)} is not a finite number >= 0`);
  return v;
}

/** 1 - a / ref; a zero reference is only matched by a zero loss. */
const relImprovement = (a: number, ref: number): number => (ref === 0 ? (a === 0 ? 0 : -Infinity) : 1 - a / ref);

export function decidePromotion(p: PromotionInput): PromotionDecision {
  const measure = p.measure ?? 'pinball loss';
  const challenger = checkLoss('challenger', p.challenger);
  const champion = p.champion === null ? null : checkLoss('champion', p.champion);
  if (!(typeof p.margin === 'number' && Number.isFinite(p.margin) && p.margin >= 0 && p.margin <= 1))
    throw new BitPredictError('ERR_VALIDATION', `decidePromotion: margin = ${String(p.margin)} is not a number in [0, 1]`);
  const entries = Object.entries(p.baselines ?? {});
  if (entries.length === 0) throw new BitPredictError('ERR_VALIDATION', 'decidePromotion: no baseline losses: a challenger is never promoted unchecked');
  let best = { name: '', loss: Number.POSITIVE_INFINITY };
  for (const [name, v] of entries) {
    const loss = checkLoss(`baselines.${name}`, v);
    if (loss < best.loss) best = { name, loss };
  }
  const overBaseline = relImprovement(challenger, best.loss);
  const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
  const e = (x: number): string => x.toExponential(4);
  const baselineText = `best baseline ${best.name} ${e(best.loss)} (${entries.map(([n, v]) => `${n} ${e(v)}`).join(', ')})`;
  const head = `validation ${measure} ${e(challenger)}`;
  if (champion === null) {
    const promote = overBaseline >= p.margin;
    const verdict = promote ? `is ${pct(overBaseline)} below the` : `is not ${pct(p.margin)} below the`;
    return {
      promote,
      against: 'best baseline',
      improvement: overBaseline,
      bestBaseline: best,
      improvementOverBaseline: overBaseline,
      reason: `no champion: ${head} ${verdict} ${baselineText}; margin ${pct(p.margin)}, improvement ${pct(overBaseline)}`,
    };
  }
  const overChampion = relImprovement(challenger, champion);
  const beatsChampion = overChampion >= p.margin;
  const notWorseThanBaseline = challenger <= best.loss;
  const promote = beatsChampion && notWorseThanBaseline;
  const why = promote
    ? `is ${pct(overChampion)} below the champion's ${e(champion)} (margin ${pct(p.margin)}) and not above the ${baselineText}`
    : !beatsChampion
      ? `is not ${pct(p.margin)} below the champion's ${e(champion)} (improvement ${pct(overChampion)}); ${baselineText}`
      : `beats the champion's ${e(champion)} by ${pct(overChampion)} but is worse than the ${baselineText} (by ${pct(-overBaseline)})`;
  return { promote, against: 'champion', improvement: overChampion, bestBaseline: best, improvementOverBaseline: overBaseline, reason: `${head} ${why}` };
}
