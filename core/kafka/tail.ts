// Reads the last records of every partition of a topic, for producers that must resume without
// republishing what is already there (dedupe on restart). Each partition is read from
// max(low, high - perPartition) to its end; with keys that stay in one partition, the last record
// of a key is among them as long as fewer than `perPartition` other records follow it.
import { randomBytes } from 'node:crypto';
import type { KafkaClient } from './client.js';
import { createAdmin, driverOf, kafkaError } from './client.js';
import type { InRecord } from './consumer.js';

export async function readTail(client: KafkaClient, topic: string, opts: { perPartition?: number; timeoutMs?: number } = {}): Promise<InRecord[]> {
  const perPartition = BigInt(opts.perPartition ?? 50);
  const admin = await createAdmin(client);
  let ends: { partition: number; offset: string }[];
  let lows: Map<number, bigint>;
  try {
    ends = await admin.endOffsets(topic);
    lows = new Map((await admin.offsetsForTime(topic, 0)).map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.close();
  }
  const wanted = ends.filter((e) => BigInt(e.offset) > (lows.get(e.partition) ?? 0n) && BigInt(e.offset) > 0n);
  if (wanted.length === 0) return [];
  const out: InRecord[] = [];
  const lastSeen = new Map<number, bigint>();
  const endOf = new Map(wanted.map((e) => [e.partition, BigInt(e.offset)]));
  let seeked = false;
  let lastProgress = Date.now();
  const consumer = driverOf(client).consumer({
    groupId: `bitpredict-tail-${randomBytes(6).toString('hex')}`,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 30000,
    heartbeatIntervalMs: 3000,
    maxWaitMs: 250,
    autoCommitIntervalMs: null,
    onAssigned() {
      if (seeked) return;
      seeked = true;
      // Quiet is counted from the join (as the loop below says), not from before connecting.
      lastProgress = Date.now();
      for (const [partition, end] of endOf) {
        const low = lows.get(partition) ?? 0n;
        const from = end - perPartition > low ? end - perPartition : low;
        consumer.seek(topic, partition, from.toString());
      }
    },
    eachBatch: async (batch, controls) => {
      lastProgress = Date.now();
      for (const record of batch.records) {
        out.push(record);
        lastSeen.set(batch.partition, BigInt(record.offset));
      }
      // Nothing is committed: resolving only moves the fetch position past the batch.
      controls.resolveOffset(batch.lastOffset);
    },
  });
  try {
    await consumer.start();
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    // Done when every partition reached its end; transaction markers occupy offsets without a
    // record, so a partition that has been quiet for a second after the join is also done.
    for (;;) {
      const caughtUp = [...endOf].every(([p, end]) => (lastSeen.get(p) ?? -1n) >= end - 1n);
      if (caughtUp || (seeked && Date.now() - lastProgress > 1500)) break;
      if (Date.now() > deadline) throw new Error(`reading the tail of ${topic} did not finish in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    throw kafkaError(client, err);
  } finally {
    await consumer.stop();
  }
  return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
