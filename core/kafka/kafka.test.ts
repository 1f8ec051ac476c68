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

  it('refuses a driver that is not built in, as a configuration error', () => {
    expect(() => createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'unit', driver: 'platformatic' }, logger)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID', message: expect.stringMatching(/BITPREDICT_KAFKA_CLIENT=platformatic/) as unknown }),
    );
  });
});
