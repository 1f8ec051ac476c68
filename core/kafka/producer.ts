// BitPredict's producers over the client's driver: the idempotent producer (acks=all, no
// reordering on retry; records of one send() call go out together) and the transactional producer
// that sends records and commits consumer offsets in one transaction.
import type { KafkaClient } from './client.js';
import { driverOf, kafkaError, tracerOf } from './client.js';
import { withAclResources } from './security.js';
import type { OffsetCommit } from './driver.js';
import type { OutRecord } from './records.js';
import { sendTraced } from './tracing.js';

export type { OutRecord };

export interface Producer {
  send(records: OutRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** The topics of a batch, for an ERR_KAFKA_ACL message. */
const topicsOf = (records: OutRecord[]): string => `topics ${[...new Set(records.map((r) => r.topic))].join(', ')}`;

export async function createProducer(client: KafkaClient): Promise<Producer> {
  let producer: Producer;
  try {
    producer = await driverOf(client).producer();
  } catch (err) {
    // The idempotent producer's first request (InitProducerId) needs IdempotentWrite on the cluster.
    throw withAclResources(kafkaError(client, err), 'cluster (IdempotentWrite)');
  }
  const send = async (records: OutRecord[]): Promise<void> => {
    try {
      await producer.send(records);
    } catch (err) {
      throw withAclResources(kafkaError(client, err), topicsOf(records));
    }
  };
  const tracer = tracerOf(client);
  // Tracing on: each new record gets a PRODUCER span and its traceparent header (the first span of its trace).
  if (!tracer) return { send, close: () => producer.close() };
  return { send: (records) => sendTraced(tracer, records, send), close: () => producer.close() };
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
    throw withAclResources(kafkaError(client, err), `transactional id ${transactionalId}`);
  }
}
