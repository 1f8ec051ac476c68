// Reading a whole topic through a client (read_committed, the client's own driver and security),
// for tests that build their own KafkaClient instead of a TestPlatform.
import type { KafkaClient } from '../../core/kafka/client.js';
import { readTopicFromStart } from '../../core/kafka/follow.js';
import type { InRecord } from '../../core/kafka/records.js';

/**
 * Every record of `topic` from the start, in partition then offset order: waits for `expected`
 * records (up to `timeoutMs`), then a moment more, so that anything beyond them (an aborted record
 * leaking, a duplicate) shows up too.
 */
export async function readAll(client: KafkaClient, topic: string, expected: number, timeoutMs = 20_000): Promise<InRecord[]> {
  const got: InRecord[] = [];
  const reader = await readTopicFromStart({
    client,
    topic,
    groupId: client.privateGroupId('read-all'),
    onBatch: async (_p, records) => {
      got.push(...records);
    },
  });
  const deadline = Date.now() + timeoutMs;
  while (got.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
  await reader.stop();
  return got.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
