// A workaround for a data-corrupting bug in @platformatic/dynamic-buffer 0.3.1 (the latest release,
// used by @platformatic/kafka 1.35 and 2.x to write record batches): its 64-bit varint writer
// zig-zags with `>> 31n` instead of `>> 63n` and stops at the first 7-bit group when bits 7-31 are
// zero. Each record's timestamp is written as a varint64 delta from the batch's first timestamp, so
// any record more than 2^31 ms (24.8 days) from the first record of its batch got a wrong
// timestamp: a replay of hourly candles (1,000 to a batch, 41 days) corrupted record timestamps,
// and with them offsets-for-time lookups. The reader side is correct. This replaces the writer's
// two methods with a correct encoding (the one Kafka's protocol defines); `fixVarInt64` is called
// when the driver is created, and records.test.ts round-trips deltas of either sign beyond 2^31.
import { Writer } from '@platformatic/kafka';

type VarIntWriter = {
  append(b: Buffer): unknown;
  prepend(b: Buffer): unknown;
  writeUnsignedVarInt64(value: bigint, append?: boolean): void;
  writeVarInt64(value: bigint, append?: boolean): void;
};

const FIXED = Symbol.for('bitpredict.varint64.fixed');

export function encodeUnsignedVarInt64(value: bigint): Buffer {
  let v = BigInt.asUintN(64, value);
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}

export function zigZag64(value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

/** Replaces the varint64 writers of the DynamicBuffer class @platformatic/kafka writes with (once). */
export function fixVarInt64(): void {
  const proto = Object.getPrototypeOf(Writer.create().dynamicBuffer) as VarIntWriter & Record<symbol, boolean>;
  if (proto[FIXED]) return;
  proto.writeUnsignedVarInt64 = function (this: VarIntWriter, value: bigint, append = true): void {
    const buf = encodeUnsignedVarInt64(value);
    if (append) this.append(buf);
    else this.prepend(buf);
  };
  proto.writeVarInt64 = function (this: VarIntWriter, value: bigint, append = true): void {
    this.writeUnsignedVarInt64(zigZag64(value), append);
  };
  proto[FIXED] = true;
}
