// Scores a baseline run per baseline and horizon: the summary of the proper scores, Kupiec's test
// of the 80 and 90 % intervals, and Diebold-Mariano against a reference baseline on the MSE of |r|
// and on the pinball loss (pairs where the outcome is known). Pure code.
import { INTERVAL_LEVELS } from './distribution.js';
import type { BaselineItem, BaselineRun } from './bank.js';
import type { BaselineName } from './baselines.js';
import { intervalOf, pinballLoss, summarise, type ScoreSummary } from './scoring.js';
import { dieboldMariano, kupiec } from './stats.js';

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
