import { describe, it, expect } from 'vitest';
import type { CandleRow } from './formats.js';
import { createRowSequencer, type RowSequencer } from './sequencer.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
function r(hour: number, close = 100 + hour): CandleRow {
  return { openTime: T0 + hour * H, open: close, high: close, low: close, close, volume: 1, quoteVolume: null, tradeCount: null };
}
function feed(seq: RowSequencer, rows: CandleRow[]) {
  const emitted: CandleRow[] = [];
  const rejected: Array<{ row: CandleRow; reason: string }> = [];
  for (const row of rows) {
    const out = seq.push(row);
    emitted.push(...out.emit);
    rejected.push(...out.rejected);
  }
  emitted.push(...seq.flush());
  return { emitted, rejected };
}

describe('createRowSequencer', () => {
  it('passes an ordered series through unchanged, one row behind', () => {
    const seq = createRowSequencer(H);
    expect(seq.push(r(0)).emit).toEqual([]);
    expect(seq.push(r(1)).emit).toEqual([r(0)]);
    expect(seq.flush()).toEqual([r(1)]);
    expect(seq.flush()).toEqual([]);
    expect(seq.stats()).toEqual({ duplicatesReplaced: 0, duplicatesChanged: 0, outOfOrder: 0, gaps: 0, missingIntervals: 0 });
  });

  it('keeps the LAST copy of a repeated open time', () => {
    const seq = createRowSequencer(H);
    const partial = r(1, 50);
    const { emitted, rejected } = feed(seq, [r(0), partial, r(1, 60), r(1, 60), r(2)]);
    expect(emitted.map((x) => x.close)).toEqual([100, 60, 102]);
    expect(rejected).toEqual([]);
    expect(seq.stats()).toMatchObject({ duplicatesReplaced: 2, duplicatesChanged: 1, outOfOrder: 0 });
  });

  it('returns out-of-order rows for the dead-letter queue instead of emitting them', () => {
    const seq = createRowSequencer(H);
    const { emitted, rejected } = feed(seq, [r(0), r(1), r(2), r(1), r(0, 7), r(3)]);
    expect(emitted.map((x) => x.openTime)).toEqual([0, 1, 2, 3].map((h) => T0 + h * H));
    expect(rejected.map((x) => x.row)).toEqual([r(1), r(0, 7)]);
    expect(rejected[0]?.reason).toBe('open time 2024-01-01T01:00:00.000Z repeats an already published open time 2024-01-01T01:00:00.000Z');
    expect(rejected[1]?.reason).toMatch(/is before the last published open time/);
    expect(seq.stats().outOfOrder).toBe(2);
  });

  it('rejects a row older than the held one', () => {
    const seq = createRowSequencer(H);
    expect(seq.push(r(5)).emit).toEqual([]);
    const out = seq.push(r(4));
    expect(out.emit).toEqual([]);
    expect(out.rejected[0]?.reason).toMatch(/before the preceding row's 2024-01-01T05:00:00.000Z/);
    expect(seq.flush()).toEqual([r(5)]);
  });

  it('counts gaps and missing intervals without filling them', () => {
    const seq = createRowSequencer(H);
    const { emitted } = feed(seq, [r(0), r(1), r(4), r(5), r(7)]);
    expect(emitted).toHaveLength(5);
    expect(seq.stats()).toMatchObject({ gaps: 2, missingIntervals: 3 });
  });

  it('rejects a bad interval length', () => {
    expect(() => createRowSequencer(0)).toThrow(/not a positive integer/);
    expect(() => createRowSequencer(Number.NaN)).toThrow(/not a positive integer/);
  });

  it('offer() agrees with push() row by row, including rejections, and keeps the row objects', () => {
    const rows = [r(0), r(1), r(1, 500), r(0), r(3), r(2), r(4), r(4), r(6)];
    const a = createRowSequencer(H);
    const b = createRowSequencer(H);
    for (const row of rows) {
      const pushed = a.push(row);
      const rejected: Array<{ row: CandleRow; reason: string }> = [];
      const out = b.offer(row, (x) => rejected.push({ row: x.row, reason: x.reason }));
      expect(out === null ? [] : [out]).toEqual(pushed.emit);
      expect(rejected).toEqual(pushed.rejected.map((x) => ({ row: x.row, reason: x.reason })));
      if (out !== null) expect(pushed.emit[0]).toBe(out);
    }
    expect(b.flush()).toEqual(a.flush());
    expect(b.stats()).toEqual(a.stats());
    expect(b.stats()).toMatchObject({ outOfOrder: 2, duplicatesReplaced: 2, duplicatesChanged: 1, gaps: 2 });
  });
});
