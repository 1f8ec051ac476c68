import type { Kafka, ProducerConfig } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../../errors.js';
import { createKafkaJsProducer, createKafkaJsTransactionalProducer } from './producer.js';

/** A stand-in for kafkajs that records the producer configs it is given. */
function fakeKafka(): { kafka: Kafka; configs: ProducerConfig[] } {
  const configs: ProducerConfig[] = [];
  const producer = { connect: async () => {}, disconnect: async () => {}, transaction: async () => ({ abort: async () => {} }) };
  const kafka = {
    producer: (c: ProducerConfig) => {
      configs.push(c);
      return producer;
    },
  } as unknown as Kafka;
  return { kafka, configs };
}

const toError = (err: unknown) => new BitPredictError('ERR_KAFKA', String(err));

describe('kafkajs producer settings', () => {
  it('retries a transactional send after 20 ms first (CONCURRENT_TRANSACTIONS right after a commit), forever, idempotent', async () => {
    const f = fakeKafka();
    await createKafkaJsTransactionalProducer(f.kafka, 'tid', toError);
    expect(f.configs[0]).toMatchObject({
      transactionalId: 'tid',
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 20, maxRetryTime: 5000 },
    });
  });

  it('keeps the idempotent producer at 100 ms', async () => {
    const f = fakeKafka();
    await createKafkaJsProducer(f.kafka, toError);
    expect(f.configs[0]?.retry).toMatchObject({ initialRetryTime: 100 });
    expect(f.configs[0]?.transactionalId).toBeUndefined();
  });
});
