import { describe, expect, it } from 'vitest';
import { createRebalanceTracker, tpKey } from './rebalance.js';

describe('rebalance tracker', () => {
  it('marks each owned partition first-batch once per join and tells the hooks which were revoked', () => {
    const revoked: { topic: string; partition: number }[][] = [];
    const t = createRebalanceTracker({ ensure: async (_t, _p, o) => o, revoked: (ps) => revoked.push(ps) });
    expect(t.joined).toBe(false);
    const owned = t.assign({ 'bp.text.raw': [0, 1], x: [2] });
    expect([...owned]).toEqual(['bp.text.raw:0', 'bp.text.raw:1', 'x:2']);
    expect(t.joined).toBe(true);
    expect(t.assignedPartitions).toBe(3);
    expect(t.takeFirstBatch(tpKey('bp.text.raw', 0))).toBe(true);
    expect(t.takeFirstBatch(tpKey('bp.text.raw', 0))).toBe(false);
    t.stateReached('bp.text.raw:1', 10n);
    t.stateReached('x:2', 5n);
    t.assign({ 'bp.text.raw': [0] });
    expect(revoked).toEqual([
      [
        { topic: 'bp.text.raw', partition: 1 },
        { topic: 'x', partition: 2 },
      ],
    ]);
    expect(t.stateAt('bp.text.raw:1')).toBeUndefined();
    expect(t.takeFirstBatch('bp.text.raw:0')).toBe(true);
    expect(t.assignedPartitions).toBe(1);
    t.left();
    expect(t.joined).toBe(false);
  });

  it('after a fence, the partition loses its state and its next batch is a first batch again (a takeover); a partition no longer owned stays gone', () => {
    const t = createRebalanceTracker(undefined);
    t.assign({ t: [0, 1] });
    expect(t.takeFirstBatch('t:0')).toBe(true);
    t.stateReached('t:0', 10n);
    t.fenced('t:0');
    expect(t.stateAt('t:0')).toBeUndefined();
    expect(t.takeFirstBatch('t:0')).toBe(true);
    expect(t.takeFirstBatch('t:0')).toBe(false);
    t.assign({ t: [1] });
    t.fenced('t:0');
    expect(t.takeFirstBatch('t:0')).toBe(false);
  });

  it('moves a state past a batch of control records only, never past one eachBatch saw', () => {
    const t = createRebalanceTracker(undefined);
    t.stateReached('t:0', 10n);
    t.batchStarted('t:0', 10n, 11n);
    t.batchEnded();
    expect(t.stateAt('t:0')).toBe(12n);
    t.batchStarted('t:0', 12n, 20n);
    t.batchDelivered();
    t.batchEnded();
    expect(t.stateAt('t:0')).toBe(12n);
    // A state that is not where the batch starts is not moved either.
    t.batchStarted('t:0', 30n, 31n);
    t.batchEnded();
    expect(t.stateAt('t:0')).toBe(12n);
  });
});
