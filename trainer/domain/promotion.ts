// Champion/challenger rule: a retrained model replaces the champion only if, on the SAME validation
// windows, its mean squared error of next-period log returns is lower than the champion's by at
// least `margin` (relative: 0.01 = 1 % lower). Without a champion, a challenger is promoted only if
// it beats persistence (a zero forecast) on that window by the same margin: a model that cannot
// beat "no change" is never put in front of traders.
import { BitPredictError } from '../../core/errors.js';

export interface PromotionInput {
  challengerMse: number;
  /** null: there is no champion yet */
  championMse: number | null;
  persistenceMse: number;
  margin: number;
  /** What the three losses are, for the reason text (default 'MSE'); the distributional head passes its pinball loss. */
  measure?: string;
}

export interface PromotionDecision {
  promote: boolean;
  /** what the challenger was compared with */
  against: 'champion' | 'persistence';
  /** relative improvement: 1 - challenger / reference (positive = better) */
  improvement: number;
  reason: string;
}

export function decidePromotion(p: PromotionInput): PromotionDecision {
  const measure = p.measure ?? 'MSE';
  for (const [k, v] of Object.entries(p)) {
    if (k === 'measure') continue;
    if (v !== null && !(typeof v === 'number' && Number.isFinite(v) && v >= 0))
      throw new BitPredictError('ERR_VALIDATION', `decidePromotion: ${k} = ${String(v)} is not a finite number >= 0`);
  }
  const against = p.championMse === null ? 'persistence' : 'champion';
  const reference = p.championMse ?? p.persistenceMse;
  const improvement = reference === 0 ? (p.challengerMse === 0 ? 0 : -Infinity) : 1 - p.challengerMse / reference;
  const promote = improvement >= p.margin;
  const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
  const reason = promote
    ? `validation ${measure} ${p.challengerMse.toExponential(4)} is ${pct(improvement)} below the ${against}'s ${reference.toExponential(4)} (margin ${pct(p.margin)})`
    : `validation ${measure} ${p.challengerMse.toExponential(4)} is not ${pct(p.margin)} below the ${against}'s ${reference.toExponential(4)} (improvement ${pct(improvement)})`;
  return { promote, against, improvement, reason };
}
