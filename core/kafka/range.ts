// Reads one partition of a topic over an offset range [from, to), for restoring processor state
// (re-applying the input records between a state snapshot and the committed offset). It uses a
// throwaway consumer group that never commits, so it cannot move any live group's offsets.
import { randomBytes } from 'node:crypto';
import type { KafkaAdmin, KafkaClient } from './client.js';
import { driverOf, kafkaError } from './client.js';
import type { InRecord } from './consumer.js';
import { BitPredictError } from '../errors.js';

export async function readRange(
  client: KafkaClient,
  topic: string,
  partition: number,
  from: bigint,
  to: bigint,
  onRecord: (rec: InRecord) => Promise<void> | void,
  opts: { timeoutMs?: number; groupId?: string } = {},
): Promise<number> {
  if (from >= to) return 0;
  let position = from;
  let read = 0;
  let failure: Error | null = null;
  async function readBatch(records: InRecord[]): Promise<void> {
    for (const rec of records) {
      const off = BigInt(rec.offset);
      if (off < from || off >= to) continue;
      try {
        await onRecord(rec);
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
        return;
      }
      read++;
    }
  }
  const consumer = driverOf(client).consumer({
    // A caller may name the group (ACLs grant groups by prefix); it must be unique to this read.
    groupId: opts.groupId ?? `bitpredict-range-${randomBytes(6).toString('hex')}`,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 30000,
    heartbeatIntervalMs: 3000,
    maxWaitMs: 250,
    autoCommitIntervalMs: null,
    onAssigned(assignment) {
      const parts = assignment[topic] ?? [];
      const others = parts.filter((p) => p !== partition);
      if (others.length > 0) consumer.pause(topic, others);
      consumer.seek(topic, partition, from.toString());
    },
    // Control records (transaction markers) never reach eachBatch; the batch events still move the position.
    onBatchEnd(b) {
      if (b.partition === partition && b.topic === topic) {
        const next = BigInt(b.lastOffset) + 1n;
        if (next > position) position = next;
      }
    },
    eachBatch: async (batch, controls) => {
      if (batch.partition === partition && failure === null) await readBatch(batch.records);
      // Resolve every batch: the fetch position must advance past it (nothing is committed).
      controls.resolveOffset(batch.lastOffset);
    },
  });
  try {
    await consumer.start();
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    while (position < to && failure === null) {
      if (Date.now() > deadline) {
        throw new BitPredictError(
          'ERR_KAFKA_RETRIABLE',
          `reading ${topic}[${partition}] offsets ${from}..${to} stopped at ${position} and did not finish in time (were records deleted by retention?)`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    // Assigned inside eachBatch, which TypeScript's narrowing cannot see.
    const failed = failure as Error | null;
    if (failed !== null) throw failed;
  } catch (err) {
    if (err instanceof BitPredictError) throw err;
    throw kafkaError(client, err);
  } finally {
    await consumer.stop();
  }
  return read;
}

/** One partition's offsets to read: [from, to). */
export interface PartitionRange {
  partition: number;
  from: bigint;
  to: bigint;
}

/**
 * What to read for "every record since t": per partition, from the first record stamped at or
 * after `since` to the current end. Not to an end looked up by time: records of other keys may
 * interleave with older timestamps, so readers filter by the record's own time.
 */
export async function rangesSince(admin: KafkaAdmin, topic: string, since: number): Promise<PartitionRange[]> {
  const starts = await admin.offsetsForTime(topic, since);
  const ends = await admin.endOffsets(topic);
  const out: PartitionRange[] = [];
  for (const { partition, offset } of starts) {
    const end = ends.find((e) => e.partition === partition);
    if (!end) continue;
    // -1 (no record at or after `since`) reads nothing.
    out.push({ partition, from: BigInt(offset) < 0n ? BigInt(end.offset) : BigInt(offset), to: BigInt(end.offset) });
  }
  return out;
}
