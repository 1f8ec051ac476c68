import { BitPredictError } from '../../errors.js';
import type { CandleRow } from './formats.js';

export interface RejectedRow<R extends CandleRow = CandleRow> {
  row: R;
  code: 'ERR_VALIDATION';
  reason: string;
}

export interface SequencerOutput<R extends CandleRow = CandleRow> {
  /** Rows now final, in ascending open time; publish them. */
  emit: R[];
  /** Rows that arrived too late to be placed; dead-letter them. */
  rejected: RejectedRow<R>[];
}

export interface SequencerStats {
  /** Rows that replaced a held row with the same open time (the later copy wins). */
  duplicatesReplaced: number;
  /** Of those, how many had different values from the row they replaced. */
  duplicatesChanged: number;
  /** Rows rejected because their open time is not after the last emitted one. */
  outOfOrder: number;
  /** Holes between consecutive emitted rows. */
  gaps: number;
  /** Intervals missing in those holes. Gaps are counted, never filled. */
  missingIntervals: number;
}

export interface RowSequencer<R extends CandleRow = CandleRow> {
  push(row: R): SequencerOutput<R>;
  /**
   * push() without a result object, for the replay's per-row loop: the row now final (a push
   * emits at most one) or null; a rejected row goes to onReject.
   */
  offer(row: R, onReject: (rejected: RejectedRow<R>) => void): R | null;
  /** Emits the held row; call at end of input. */
  flush(): R[];
  stats(): SequencerStats;
}

function sameValues(a: CandleRow, b: CandleRow): boolean {
  return (
    a.open === b.open &&
    a.high === b.high &&
    a.low === b.low &&
    a.close === b.close &&
    a.volume === b.volume &&
    a.quoteVolume === b.quoteVolume &&
    a.tradeCount === b.tradeCount
  );
}

/**
 * Puts parsed rows of one series into strictly ascending open-time order without reordering.
 *
 * One row is held back before it is emitted, so that a repeated open time right after it replaces
 * it: the 1m file (README 1d) repeats the candle at every ~1000-row page boundary and the first
 * copy can be an in-progress version, so the LAST copy wins. A row at or before the last emitted
 * open time is rejected (returned, never silently dropped) so the caller can dead-letter it.
 * Limitation of holding only one row: a single wildly future-dated row that passed validation
 * would make every following row "out of order"; validation (future tolerance) runs first.
 * Rows may carry more than a CandleRow (a whole candle, say): they come back as the same objects.
 */
export function createRowSequencer<R extends CandleRow = CandleRow>(intervalLengthMs: number): RowSequencer<R> {
  if (!Number.isSafeInteger(intervalLengthMs) || intervalLengthMs <= 0) {
    throw new BitPredictError('ERR_VALIDATION', `interval length ${intervalLengthMs} ms is not a positive integer`);
  }
  let held: R | null = null;
  let lastEmitted: R | null = null;
  const s: SequencerStats = { duplicatesReplaced: 0, duplicatesChanged: 0, outOfOrder: 0, gaps: 0, missingIntervals: 0 };

  function emit(row: R): R {
    if (lastEmitted !== null) {
      const steps = Math.floor((row.openTime - lastEmitted.openTime) / intervalLengthMs);
      if (steps > 1) {
        s.gaps += 1;
        s.missingIntervals += steps - 1;
      }
    }
    lastEmitted = row;
    return row;
  }

  /** The rejection reason of a row, or null when the row is taken (held, replacing or emitting). */
  function rejection(row: R): string | null {
    if (lastEmitted !== null && row.openTime <= lastEmitted.openTime) {
      const what = row.openTime === lastEmitted.openTime ? 'repeats an already published' : 'is before the last published';
      return `open time ${new Date(row.openTime).toISOString()} ${what} open time ${new Date(lastEmitted.openTime).toISOString()}`;
    }
    if (held !== null && row.openTime < held.openTime) {
      return `open time ${new Date(row.openTime).toISOString()} is before the preceding row's ${new Date(held.openTime).toISOString()}`;
    }
    return null;
  }

  function offer(row: R, onReject: (rejected: RejectedRow<R>) => void): R | null {
    const reason = rejection(row);
    if (reason !== null) {
      s.outOfOrder += 1;
      onReject({ row, code: 'ERR_VALIDATION', reason });
      return null;
    }
    if (held === null) {
      held = row;
      return null;
    }
    if (row.openTime === held.openTime) {
      s.duplicatesReplaced += 1;
      if (!sameValues(row, held)) s.duplicatesChanged += 1;
      held = row;
      return null;
    }
    const out = emit(held);
    held = row;
    return out;
  }

  return {
    push(row) {
      const rejected: RejectedRow<R>[] = [];
      const out = offer(row, (r) => rejected.push(r));
      return { emit: out === null ? [] : [out], rejected };
    },
    offer,
    flush() {
      if (held === null) return [];
      const out = emit(held);
      held = null;
      return [out];
    },
    stats() {
      return { ...s };
    },
  };
}
