// From one partition of a Fetch response to the records a read_committed reader may see.
//
// Kafka returns a read_committed fetch up to the last stable offset, aborted data included, with
// the list of aborted transactions that overlap it; the client must drop their records itself.
// @platformatic/kafka 1.35 filters them too, but wrongly: it keeps one range per producer id (a
// producer that aborted twice in one response keeps its first aborted batches), skips a range whose
// abort marker lies beyond the response, and stretches a range from an earlier aborted transaction
// to an abort marker whose transaction wrote nothing to the partition, over the committed
// transactions between them, which it then drops. The consumer therefore turns the library's
// filter off (READ_COMMITTED_UNFILTERED in consumer.ts) and this is the only filter: the Java
// client's algorithm. Walk the batches in offset order; a transactional batch whose producer has an
// aborted transaction starting at or before it is aborted until that producer's ABORT marker.
import type { InRecord } from '../../records.js';

// Attribute bits of a record batch (Kafka's DefaultRecordBatch).
const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;

/** The parts of a record batch this module reads (shape of @platformatic/kafka's RecordsBatch). */
export interface FetchedBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  firstTimestamp: bigint;
  attributes: number;
  producerId: bigint;
  records: { offsetDelta: number; timestampDelta: bigint; key: Buffer | null; value: Buffer | null; headers: [Buffer | null, Buffer | null][] }[];
}

export interface FetchedPartition {
  partitionIndex: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  abortedTransactions: { producerId: bigint; firstOffset: bigint }[];
  records?: FetchedBatch[];
}

/** One partition's share of a fetch, ready for a consumer: committed data records, and the offsets it covers. */
export interface PartitionSlice {
  records: InRecord[];
  /** The first offset covered (at or after the fetch offset), null when the response held nothing at or after it. */
  first: bigint | null;
  /** The last offset covered, control records and aborted data included. */
  last: bigint | null;
}

/** An ABORT control record's key: version (int16) then type (int16), 0 = abort, 1 = commit. */
function isAbortMarker(batch: FetchedBatch): boolean {
  const key = batch.records[0]?.key;
  return key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === 0;
}

/** Header values by key, the first value of a key that repeats (as the kafkajs driver), and the keys that repeat. */
function headersOf(pairs: [Buffer | null, Buffer | null][]): Pick<InRecord, 'headers' | 'duplicateHeaders'> {
  const headers: Record<string, Buffer | undefined> = {};
  let duplicateHeaders: string[] | undefined;
  for (const [k, v] of pairs) {
    if (k === null) continue;
    const key = k.toString();
    if (Object.hasOwn(headers, key)) {
      if (!duplicateHeaders?.includes(key)) (duplicateHeaders ??= []).push(key);
      continue;
    }
    headers[key] = v ?? undefined;
  }
  return duplicateHeaders ? { headers, duplicateHeaders } : { headers };
}

/**
 * The committed data records of `partition` from `fetchOffset` on, in offset order, and the
 * range of offsets the response covered. Records below `fetchOffset` (a batch may start before
 * it) are left out.
 */
export function committedSlice(topic: string, partition: FetchedPartition, fetchOffset: bigint): PartitionSlice {
  const batches = partition.records ?? [];
  const aborted = [...partition.abortedTransactions].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  let nextAborted = 0;
  const abortedProducers = new Set<bigint>();
  const records: InRecord[] = [];
  let first: bigint | null = null;
  let last: bigint | null = null;
  for (const batch of batches) {
    const batchLast = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    if (batchLast < fetchOffset) continue;
    if (first === null) first = batch.firstOffset > fetchOffset ? batch.firstOffset : fetchOffset;
    last = batchLast;
    // Every aborted transaction that started at or before this batch's end is now open for its producer.
    while (nextAborted < aborted.length && aborted[nextAborted]!.firstOffset <= batchLast) {
      abortedProducers.add(aborted[nextAborted]!.producerId);
      nextAborted++;
    }
    if (batch.attributes & IS_CONTROL) {
      if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId);
      continue;
    }
    if (batch.attributes & IS_TRANSACTIONAL && abortedProducers.has(batch.producerId)) continue;
    for (const r of batch.records) {
      const offset = batch.firstOffset + BigInt(r.offsetDelta);
      if (offset < fetchOffset) continue;
      records.push({
        topic,
        partition: partition.partitionIndex,
        offset: offset.toString(),
        key: r.key,
        value: r.value,
        timestamp: Number(batch.firstTimestamp + r.timestampDelta),
        ...headersOf(r.headers),
      });
    }
  }
  return { records, first, last };
}
