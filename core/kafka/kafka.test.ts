import { describe, expect, it } from 'vitest';
import { classifyError } from './consumer.js';
import { BitPredictError } from '../errors.js';
import { createLogger } from '../logger.js';
import { createKafkaClient, driverOf, kafkaError } from './client.js';

describe('error classification', () => {
  it('keeps the code and retryable flag of our own errors', () => {
    expect(classifyError(new BitPredictError('ERR_VALIDATION', 'x'))).toMatchObject({ code: 'ERR_VALIDATION', retryable: false });
    expect(classifyError(new BitPredictError('ERR_REDIS_UNREACHABLE', 'x'))).toMatchObject({ code: 'ERR_REDIS_UNREACHABLE', retryable: true });
  });

  it('treats unknown errors as retryable handler errors (bounded by maxAttempts)', () => {
    expect(classifyError(new TypeError('bug'))).toEqual({ code: 'ERR_HANDLER', retryable: true, message: 'bug' });
    expect(classifyError('a string')).toMatchObject({ code: 'ERR_HANDLER', message: 'a string' });
  });
});

describe('createKafkaClient', () => {
  const logger = createLogger({ level: 'silent' });

  it('builds the kafkajs driver by default, and maps its errors through it', () => {
    const client = createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'unit' }, logger);
    expect(client.driver).toBe('kafkajs');
    expect(driverOf(client).name).toBe('kafkajs');
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'), { name: 'KafkaJSConnectionError' });
    expect(kafkaError(client, refused)).toMatchObject({ code: 'ERR_KAFKA_UNREACHABLE', message: expect.stringMatching(/127\.0\.0\.1:1/) as unknown });
  });

  it('says "npm run stack:up" only when the brokers are the local stack, and names the setting otherwise', () => {
    for (const driver of ['kafkajs', 'platformatic'] as const) {
      const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' });
      const cluster = kafkaError(createKafkaClient({ brokers: ['kafka-0.kafka:9092'], clientId: 'unit', driver }, logger), refused);
      expect(cluster).toMatchObject({ code: 'ERR_KAFKA_UNREACHABLE', retryable: true });
      expect(cluster.message).not.toMatch(/stack:up/);
      expect(cluster.message).toMatch(/kafka-0\.kafka:9092 .*check BITPREDICT_KAFKA_BROKERS/);
      const local = kafkaError(createKafkaClient({ brokers: ['127.0.0.1:9092'], clientId: 'unit', driver }, logger), refused);
      expect(local.message).toMatch(/npm run stack:up/);
    }
  });

  it('refuses a driver name that does not exist, as a configuration error naming the setting and the choices', () => {
    expect(() => createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'unit', driver: 'rdkafka' as never }, logger)).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringMatching(/BITPREDICT_KAFKA_CLIENT=rdkafka .*kafkajs, platformatic/) as unknown,
      }),
    );
    // Names of Object.prototype are not drivers either.
    expect(() => createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'unit', driver: 'toString' as never }, logger)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });

  it('builds a client on either driver without connecting', () => {
    for (const driver of ['kafkajs', 'platformatic'] as const) {
      expect(driverOf(createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'unit', driver }, logger)).name).toBe(driver);
    }
  });
});
