// The text.scored record of a text.raw item: one builder for the sentiment processor and for the
// research and backtest paths that score the same items offline (without FinBERT).
import type { FinbertScore, ScoredText, TextItem } from '../../schemas/types.js';
import { scoreVader, textForVader, VADER_VERSION } from './vader.js';

export type ScorableText = Pick<TextItem, 'id' | 'source' | 'kind' | 'publishedAt' | 'title' | 'text'>;

/** The item scored with VADER, with the FinBERT score when there is one. */
export function scoredTextOf(item: ScorableText, finbert: FinbertScore | null, scoredAt: number): ScoredText {
  return {
    id: item.id,
    source: item.source,
    kind: item.kind,
    publishedAt: item.publishedAt,
    vader: scoreVader(textForVader(item)),
    finbert,
    vaderVersion: VADER_VERSION,
    scoredAt,
  };
}
