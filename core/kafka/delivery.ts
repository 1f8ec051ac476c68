// Builds the consumer runner's delivery mode from config: the idempotent producer with
// commit-after-produce, or transactional producers (outputs + offsets in one transaction).
//
// Exactly-once uses ONE transactional producer PER INPUT PARTITION, with the transactional id
// `<prefix>-<topic>-<partition>` (the pre-KIP-447 design; kafkajs has no KIP-447 support). Whoever
// owns an input partition owns its transactional id, so when a partition moves to another
// instance (rebalance, crash, SIGKILL, restart) the new owner's initTransactions fences the old
// owner and aborts its open transaction at once: a zombie can never commit outputs or offsets for
// a partition it lost, and read_committed readers are not held up until a transaction timeout.
import type { KafkaClient } from './client.js';
import type { DeliveryMode } from './consumer.js';
import { createProducer, createTransactionalProducer, type TransactionalProducer } from './producer.js';

export function transactionalIdFor(prefix: string, topic: string, partition: number): string {
  return `${prefix}-${topic}-${partition}`;
}

export async function createDelivery(
  client: KafkaClient,
  guarantee: 'at-least-once' | 'exactly-once',
  transactionalIdPrefix: string,
): Promise<{ mode: DeliveryMode; close(): Promise<void> }> {
  if (guarantee === 'exactly-once') {
    const producers = new Map<string, Promise<TransactionalProducer>>();
    const closeOne = async (key: string): Promise<void> => {
      const p = producers.get(key);
      producers.delete(key);
      if (!p) return;
      try {
        await (await p).close();
      } catch {
        // A producer that never connected has nothing to close.
      }
    };
    return {
      mode: {
        kind: 'transactional',
        producerFor(topic, partition) {
          const key = `${topic}:${partition}`;
          let p = producers.get(key);
          if (!p) {
            p = createTransactionalProducer(client, transactionalIdFor(transactionalIdPrefix, topic, partition));
            producers.set(key, p);
            // A failed init must not be cached: the next batch tries again.
            p.catch(() => producers.delete(key));
          }
          return p;
        },
        discard: (topic, partition) => closeOne(`${topic}:${partition}`),
        async retain(assigned) {
          await Promise.all([...producers.keys()].filter((k) => !assigned.has(k)).map(closeOne));
        },
      },
      close: async () => {
        await Promise.all([...producers.keys()].map(closeOne));
      },
    };
  }
  const producer = await createProducer(client);
  return { mode: { kind: 'at-least-once', producer }, close: () => producer.close() };
}
