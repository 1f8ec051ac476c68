import { describe, expect, it } from 'vitest';
import { createRecordsBatch, readRecordsBatch, Reader } from '@platformatic/kafka';
import { encodeUnsignedVarInt64, fixVarInt64, zigZag64 } from './varint.js';

const DAY = 86_400_000n;

describe('record timestamps through @platformatic/kafka record batches', () => {
  it('round-trip when records lie more than 2^31 ms from the first one, later or earlier', () => {
    fixVarInt64();
    const first = 1_762_041_600_000n;
    // 27 and 60 days after the first record, 30 days before it, and 2^32 ms exactly (bits 7-31 zero in the zig-zag).
    const stamps = [first, first + 27n * DAY, first + 60n * DAY, first - 30n * DAY, first + 2n ** 32n, first + 1n];
    const batch = createRecordsBatch(
      stamps.map((timestamp, i) => ({ topic: 't', partition: 0, key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), timestamp })),
    );
    const read = readRecordsBatch(Reader.from(batch.buffer)) as unknown as { firstTimestamp: bigint; records: { timestampDelta: bigint }[] };
    expect(read.records.map((r) => read.firstTimestamp + r.timestampDelta)).toEqual(stamps);
  });

  it('encodes varint64 as Kafka does (zig-zag over 64 bits, 7-bit groups)', () => {
    expect([...encodeUnsignedVarInt64(zigZag64(0n))]).toEqual([0]);
    expect([...encodeUnsignedVarInt64(zigZag64(-1n))]).toEqual([1]);
    expect([...encodeUnsignedVarInt64(zigZag64(1n))]).toEqual([2]);
    expect([...encodeUnsignedVarInt64(zigZag64(300n))]).toEqual([0xd8, 0x04]);
    expect(zigZag64(2n ** 31n)).toBe(2n ** 32n);
    expect(zigZag64(-(2n ** 40n))).toBe(2n ** 41n - 1n);
    expect(encodeUnsignedVarInt64(2n ** 63n).length).toBe(10);
  });
});
