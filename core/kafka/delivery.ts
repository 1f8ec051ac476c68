// Builds the consumer runner's delivery mode from config: the idempotent producer with
// commit-after-produce, or a transactional producer (outputs + offsets in one transaction).
import type { KafkaClient } from './client.js';
import type { DeliveryMode } from './consumer.js';
import { createProducer, createTransactionalProducer } from './producer.js';

export async function createDelivery(client: KafkaClient, guarantee: 'at-least-once' | 'exactly-once', transactionalId: string): Promise<{ mode: DeliveryMode; close(): Promise<void> }> {
  if (guarantee === 'exactly-once') {
    const producer = await createTransactionalProducer(client, transactionalId);
    return { mode: { kind: 'transactional', producer }, close: () => producer.close() };
  }
  const producer = await createProducer(client);
  return { mode: { kind: 'at-least-once', producer }, close: () => producer.close() };
}
