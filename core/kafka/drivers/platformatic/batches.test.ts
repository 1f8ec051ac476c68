import { describe, expect, it } from 'vitest';
import { committedSlice, type FetchedBatch, type FetchedPartition } from './batches.js';

const TXN = 1 << 4;
const CONTROL = 1 << 5;

function data(firstOffset: number, count: number, producerId = -1n, transactional = false): FetchedBatch {
  return {
    firstOffset: BigInt(firstOffset),
    lastOffsetDelta: count - 1,
    firstTimestamp: 1000n,
    attributes: transactional ? TXN : 0,
    producerId,
    records: Array.from({ length: count }, (_, i) => ({
      offsetDelta: i,
      timestampDelta: BigInt(i),
      key: Buffer.from(`k${firstOffset + i}`),
      value: Buffer.from(`v${firstOffset + i}`),
      headers: [[Buffer.from('h'), Buffer.from('x')]] as [Buffer | null, Buffer | null][],
    })),
  };
}

/** A transaction marker: key = version 0, type 0 (abort) or 1 (commit). */
function marker(offset: number, producerId: bigint, commit: boolean): FetchedBatch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(commit ? 1 : 0, 2);
  return {
    firstOffset: BigInt(offset),
    lastOffsetDelta: 0,
    firstTimestamp: 1000n,
    attributes: TXN | CONTROL,
    producerId,
    records: [{ offsetDelta: 0, timestampDelta: 0n, key, value: Buffer.alloc(6), headers: [] }],
  };
}

function partition(records: FetchedBatch[], aborted: { producerId: bigint; firstOffset: bigint }[] = []): FetchedPartition {
  return { partitionIndex: 2, highWatermark: 100n, lastStableOffset: 100n, abortedTransactions: aborted, records };
}

const offsets = (p: FetchedPartition, from = 0n): string[] => committedSlice('t', p, from).records.map((r) => r.offset);

describe('committedSlice (read_committed filtering of one fetched partition)', () => {
  it('keeps plain and committed transactional records, drops control records, and maps fields', () => {
    const slice = committedSlice('t', partition([data(0, 2), data(2, 2, 7n, true), marker(4, 7n, true), data(5, 1)]), 0n);
    expect(slice.records.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '5']);
    expect(slice.first).toBe(0n);
    expect(slice.last).toBe(5n);
    const r = slice.records[1]!;
    expect(r).toMatchObject({ topic: 't', partition: 2, offset: '1', timestamp: 1001 });
    expect(r.key?.toString()).toBe('k1');
    expect(r.value?.toString()).toBe('v1');
    expect(r.headers.h?.toString()).toBe('x');
  });

  it('drops every aborted transaction of a producer, also two in one response (one range per producer would keep the first)', () => {
    const p = partition(
      [data(0, 2, 9n, true), marker(2, 9n, false), data(3, 1), data(4, 2, 9n, true), marker(6, 9n, false), data(7, 2, 9n, true), marker(9, 9n, true)],
      [
        { producerId: 9n, firstOffset: 0n },
        { producerId: 9n, firstOffset: 4n },
      ],
    );
    expect(offsets(p)).toEqual(['3', '7', '8']);
  });

  it('drops aborted data whose abort marker lies beyond the response', () => {
    const p = partition([data(0, 1), data(1, 3, 4n, true)], [{ producerId: 4n, firstOffset: 1n }]);
    const slice = committedSlice('t', p, 0n);
    expect(slice.records.map((r) => r.offset)).toEqual(['0']);
    // The aborted records still count as covered: the next fetch starts after them.
    expect(slice.last).toBe(3n);
  });

  it('keeps another producer interleaved with an aborted one', () => {
    const p = partition([data(0, 1, 1n, true), data(1, 1, 2n, true), marker(2, 1n, false), marker(3, 2n, true)], [{ producerId: 1n, firstOffset: 0n }]);
    expect(offsets(p)).toEqual(['1']);
  });

  it('leaves out records before the fetch offset (a batch may start before it) and reports an empty response as nothing covered', () => {
    expect(offsets(partition([data(10, 5)]), 12n)).toEqual(['12', '13', '14']);
    expect(committedSlice('t', partition([data(10, 5)]), 12n).first).toBe(12n);
    expect(committedSlice('t', partition([]), 0n)).toEqual({ records: [], first: null, last: null });
    expect(committedSlice('t', { ...partition([]), records: undefined }, 0n).last).toBeNull();
  });

  it('covers a batch of only control records (a topic ending in a commit marker is read to its end)', () => {
    const slice = committedSlice('t', partition([marker(5, 3n, true)]), 5n);
    expect(slice).toEqual({ records: [], first: 5n, last: 5n });
  });
});
