// Reads the last records of every partition of a topic, for producers that must resume without
// republishing what is already there (dedupe on restart). Each partition is read from
// max(low, high - perPartition) to its end; with keys that stay in one partition, the last record
// of a key is among them as long as fewer than `perPartition` other records follow it.
import { randomBytes } from 'node:crypto';
import type { KafkaClient } from './client.js';
import { createAdmin, toKafkaError, kafkajsOf } from './client.js';
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
  const consumer = kafkajsOf(client).consumer({
    groupId: `bitpredict-tail-${randomBytes(6).toString('hex')}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 250,
  });
  const out: InRecord[] = [];
  const lastSeen = new Map<number, bigint>();
  const endOf = new Map(wanted.map((e) => [e.partition, BigInt(e.offset)]));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let seeked = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (seeked) return;
      seeked = true;
      for (const [partition, end] of endOf) {
        const low = lows.get(partition) ?? 0n;
        const from = end - perPartition > low ? end - perPartition : low;
        consumer.seek({ topic, partition, offset: from.toString() });
      }
    });
    let lastProgress = Date.now();
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        lastProgress = Date.now();
        out.push({ topic, partition, offset: message.offset, key: message.key, value: message.value, timestamp: Number(message.timestamp), headers: {} });
        lastSeen.set(partition, BigInt(message.offset));
      },
    });
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
    throw toKafkaError(err, client.brokers);
  } finally {
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
