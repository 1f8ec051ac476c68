// The rules a text.raw item must meet to be scored; the sentiment processor dead-letters the rest,
// and the backtest skips them the same way.
import type { TextItem } from '../../schemas/types.js';

/** Why the item is refused, or null when it is valid. */
export function validateTextItem(item: TextItem, now: number, futureToleranceMs: number): string | null {
  if (item.id.trim() === '') return 'id is empty';
  if (!Number.isSafeInteger(item.publishedAt) || item.publishedAt < 0) return `publishedAt ${item.publishedAt} is not a time`;
  if (item.publishedAt > now + futureToleranceMs) return `publishedAt ${new Date(item.publishedAt).toISOString()} is in the future`;
  if (item.kind !== 'tweet' && item.kind !== 'news') return `kind "${item.kind}" is not tweet or news`;
  return null;
}
