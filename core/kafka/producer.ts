// BitPredict's producers over the client's driver: the idempotent producer (acks=all, no
// reordering on retry; records of one send() call go out together) and the transactional producer
// that sends records and commits consumer offsets in one transaction.
import type { KafkaClient } from './client.js';
import { driverOf, kafkaError, tracerOf } from './client.js';
import type { OffsetCommit } from './driver.js';
import type { OutRecord } from './records.js';
import { sendTraced } from './tracing.js';

export type { OutRecord };

export interface Producer {
  send(records: OutRecord[]): Promise<void>;
  close(): Promise<void>;
}

export async function createProducer(client: KafkaClient): Promise<Producer> {
  let producer: Producer;
  try {
    producer = await driverOf(client).producer();
  } catch (err) {
    throw kafkaError(client, err);
  }
  const tracer = tracerOf(client);
  if (!tracer) return producer;
  // Tracing on: each new record gets a PRODUCER span and its traceparent header (the first span of its trace).
  return { send: (records) => sendTraced(tracer, records, (r) => producer.send(r)), close: () => producer.close() };
}

export interface TransactionalProducer {
  /**
   * Sends records and commits the consumer offsets in one Kafka transaction: either both become
   * visible to read_committed readers, or neither does.
   */
  sendWithOffsets(records: OutRecord[], offsets: OffsetCommit[]): Promise<void>;
  close(): Promise<void>;
}

export async function createTransactionalProducer(client: KafkaClient, transactionalId: string): Promise<TransactionalProducer> {
  try {
    return await driverOf(client).transactionalProducer(transactionalId);
  } catch (err) {
    throw kafkaError(client, err);
  }
}
