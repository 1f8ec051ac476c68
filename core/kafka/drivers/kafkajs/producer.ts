// The kafkajs producers: idempotent (acks=all, one in-flight request per broker so that kafkajs'
// retries cannot reorder a partition, one send() at a time, a new producer id after a failed
// send), records of one send() call in one request per broker; and the transactional producer that sends records and commits consumer offsets in one transaction.
import kafkajs from 'kafkajs';
import type { Kafka, Producer, ProducerConfig, Transaction } from 'kafkajs';
import type { BitPredictError } from '../../../errors.js';
import type { DriverProducer, DriverTransactionalProducer, OffsetCommit } from '../../driver.js';
import { toTopicMessages } from './records.js';
import { serialized } from '../serialized.js';

type ToError = (err: unknown) => BitPredictError;

// Idempotence only holds if the producer never gives up on a batch by itself (kafkajs warns
// otherwise): a broker outage becomes backpressure, visible in readiness, lag and the shutdown
// deadline, instead of a resend that could duplicate. The default partitioner is named explicitly
// (murmur2 on the key, as the Java client), which also silences kafkajs' v2 migration warning.
const PRODUCER_BASE: ProducerConfig = {
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
  retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5000 },
};

async function connectProducer(kafka: Kafka, toError: ToError): Promise<Producer> {
  const producer = kafka.producer(PRODUCER_BASE);
  try {
    await producer.connect();
  } catch (err) {
    await producer.disconnect().catch(() => undefined);
    throw toError(err);
  }
  return producer;
}

/**
 * After a failed send the producer is replaced before the next one. A produce request refused for
 * one partition (a record over the broker's limit) may have been appended for another, and kafkajs
 * then rolls back that partition's sequence number too: the broker would take the next send's
 * records there for a retry of the appended ones and drop them, the send still answering success.
 * A new producer gets a new producer id, whose sequences start afresh.
 */
export async function createKafkaJsProducer(kafka: Kafka, toError: ToError): Promise<DriverProducer> {
  let producer: Producer | null = await connectProducer(kafka, toError);
  return {
    // One sendBatch at a time (see ../serialized.ts: kafkajs loses and duplicates records of
    // concurrent sends when a request fails for one partition).
    send: serialized(async (records) => {
      if (records.length === 0) return;
      producer ??= await connectProducer(kafka, toError);
      const current = producer;
      try {
        await current.sendBatch({ topicMessages: toTopicMessages(records), acks: -1 });
      } catch (err) {
        producer = null;
        await current.disconnect().catch(() => undefined);
        throw toError(err);
      }
    }),
    async close() {
      const current = producer;
      producer = null;
      try {
        await current?.disconnect();
      } catch (err) {
        throw toError(err);
      }
    },
  };
}

/** The offsets per group and topic, as kafkajs' sendOffsets takes them (one call per group). */
export function offsetsByGroup(
  offsets: OffsetCommit[],
): { consumerGroupId: string; topics: { topic: string; partitions: { partition: number; offset: string }[] }[] }[] {
  const groups = new Map<string, Map<string, { partition: number; offset: string }[]>>();
  for (const o of offsets) {
    const topics = groups.get(o.consumerGroupId) ?? new Map<string, { partition: number; offset: string }[]>();
    groups.set(o.consumerGroupId, topics);
    const parts = topics.get(o.topic) ?? [];
    topics.set(o.topic, parts);
    parts.push({ partition: o.partition, offset: o.offset });
  }
  return [...groups].map(([consumerGroupId, topics]) => ({
    consumerGroupId,
    topics: [...topics.entries()].map(([topic, partitions]) => ({ topic, partitions })),
  }));
}

async function connectTransactional(kafka: Kafka, transactionalId: string, toError: ToError): Promise<Producer> {
  // First retry after 20 ms (the Java client's backoff for it): a transaction begun right after the
  // previous one's EndTxn gets CONCURRENT_TRANSACTIONS until the broker has written its markers
  // (milliseconds), and an exactly-once processor at live rates begins one per record.
  const producer = kafka.producer({ ...PRODUCER_BASE, transactionalId, retry: { ...PRODUCER_BASE.retry, initialRetryTime: 20 } });
  try {
    await producer.connect();
    // kafkajs initialises the transactional id on its first transaction, not on connect. Do it
    // now: that is what fences the id's previous owner (and aborts its open transaction), and the
    // runner's takeover relies on it having happened before it reads the committed offset. The
    // empty transaction ends locally, without a request.
    const init = await producer.transaction();
    await init.abort();
  } catch (err) {
    await producer.disconnect().catch(() => undefined);
    throw toError(err);
  }
  return producer;
}

/**
 * `toError` knows the transactional id, so a fenced producer says which id was taken over.
 *
 * After a failed transaction the producer is replaced before the next one. A produce request
 * that fails for one partition may still have appended to another, and kafkajs then reuses that
 * partition's sequence number: the broker takes the next transaction's records for a retry of
 * the aborted ones, answers "duplicate", and the commit marker commits nothing (records silently
 * lost). A new producer re-initialises the id, which bumps the epoch and restarts the sequences,
 * as the Java client does on an abortable error.
 */
export async function createKafkaJsTransactionalProducer(kafka: Kafka, transactionalId: string, toError: ToError): Promise<DriverTransactionalProducer> {
  let producer = await connectTransactional(kafka, transactionalId, toError);
  let reset = false;
  return {
    async sendWithOffsets(records, offsets) {
      if (reset) {
        await producer.disconnect().catch(() => undefined);
        producer = await connectTransactional(kafka, transactionalId, toError);
        reset = false;
      }
      let txn: Transaction | undefined;
      try {
        txn = await producer.transaction();
        if (records.length > 0) await txn.sendBatch({ topicMessages: toTopicMessages(records), acks: -1 });
        for (const group of offsetsByGroup(offsets)) await txn.sendOffsets(group);
        await txn.commit();
      } catch (err) {
        if (txn?.isActive()) {
          try {
            await txn.abort();
          } catch {
            // The abort failing leaves the transaction to time out on the broker; the original error matters more.
          }
        }
        const error = toError(err);
        // A fenced producer stays fenced: re-initialising would take the id back from its new owner.
        if (error.code !== 'ERR_KAFKA_FENCED') reset = true;
        throw error;
      }
    },
    async close() {
      try {
        await producer.disconnect();
      } catch (err) {
        throw toError(err);
      }
    },
  };
}
