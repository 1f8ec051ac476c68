// Idempotent producer (acks=all, one in-flight request per broker so that kafkajs' retries cannot
// reorder a partition). Records of one send() call go out in one request per broker.
import kafkajs from 'kafkajs';
import type { Producer as KafkaJsProducer, Message, ProducerConfig, Transaction } from 'kafkajs';
import type { KafkaClient } from './client.js';
import { toKafkaError, kafkajsOf } from './client.js';

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

export interface OutRecord {
  topic: string;
  key: string | null;
  value: Buffer | null;
  /** Kafka record timestamp (ms). BitPredict sets it to the event time so offsets can be looked up by time. */
  timestamp?: number;
  headers?: Record<string, string>;
}

export interface Producer {
  send(records: OutRecord[]): Promise<void>;
  close(): Promise<void>;
}

export function toTopicMessages(records: OutRecord[]): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) {
      list = [];
      byTopic.set(r.topic, list);
    }
    const m: Message = { key: r.key, value: r.value };
    if (r.timestamp !== undefined) m.timestamp = String(r.timestamp);
    if (r.headers) m.headers = r.headers;
    list.push(m);
  }
  return [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages }));
}

export async function createProducer(client: KafkaClient): Promise<Producer> {
  const producer: KafkaJsProducer = kafkajsOf(client).producer(PRODUCER_BASE);
  try {
    await producer.connect();
  } catch (err) {
    throw toKafkaError(err, client.brokers);
  }
  return {
    async send(records) {
      if (records.length === 0) return;
      try {
        await producer.sendBatch({ topicMessages: toTopicMessages(records), acks: -1 });
      } catch (err) {
        throw toKafkaError(err, client.brokers);
      }
    },
    close: () => producer.disconnect(),
  };
}

export interface TransactionalProducer {
  /**
   * Sends records and commits the consumer offsets in one Kafka transaction: either both become
   * visible to read_committed readers, or neither does.
   */
  sendWithOffsets(records: OutRecord[], offsets: { consumerGroupId: string; topic: string; partition: number; offset: string }[]): Promise<void>;
  close(): Promise<void>;
}

export async function createTransactionalProducer(client: KafkaClient, transactionalId: string): Promise<TransactionalProducer> {
  const producer = kafkajsOf(client).producer({ ...PRODUCER_BASE, transactionalId });
  try {
    await producer.connect();
  } catch (err) {
    throw toKafkaError(err, client.brokers);
  }
  return {
    async sendWithOffsets(records, offsets) {
      let txn: Transaction | undefined;
      try {
        txn = await producer.transaction();
        if (records.length > 0) await txn.sendBatch({ topicMessages: toTopicMessages(records), acks: -1 });
        const groups = new Map<string, Map<string, { partition: number; offset: string }[]>>();
        for (const o of offsets) {
          const topics = groups.get(o.consumerGroupId) ?? new Map<string, { partition: number; offset: string }[]>();
          groups.set(o.consumerGroupId, topics);
          const parts = topics.get(o.topic) ?? [];
          topics.set(o.topic, parts);
          parts.push({ partition: o.partition, offset: o.offset });
        }
        for (const [consumerGroupId, topics] of groups) {
          await txn.sendOffsets({ consumerGroupId, topics: [...topics.entries()].map(([topic, partitions]) => ({ topic, partitions })) });
        }
        await txn.commit();
      } catch (err) {
        if (txn?.isActive()) {
          try {
            await txn.abort();
          } catch {
            // The abort failing leaves the transaction to time out on the broker; the original error matters more.
          }
        }
        throw toKafkaError(err, client.brokers);
      }
    },
    close: () => producer.disconnect(),
  };
}
