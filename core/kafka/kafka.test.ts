import { describe, expect, it } from 'vitest';
import { toTopicMessages } from './producer.js';
import { classifyError } from './consumer.js';
import { toKafkaError } from './client.js';
import { BitPredictError } from '../errors.js';

describe('toTopicMessages', () => {
  it('groups records by topic, keeping order, with string timestamps and headers', () => {
    const out = toTopicMessages([
      { topic: 'a', key: 'k1', value: Buffer.from('1'), timestamp: 10 },
      { topic: 'b', key: null, value: null },
      { topic: 'a', key: 'k2', value: Buffer.from('2'), headers: { h: 'v' } },
    ]);
    expect(out.map((t) => [t.topic, t.messages.map((m) => m.key)])).toEqual([
      ['a', ['k1', 'k2']],
      ['b', [null]],
    ]);
    expect(out[0]?.messages[0]?.timestamp).toBe('10');
    expect(out[0]?.messages[1]?.headers).toEqual({ h: 'v' });
    expect(out[1]?.messages[0]?.timestamp).toBeUndefined();
  });
});

describe('error classification', () => {
  it('keeps the code and retryable flag of our own errors', () => {
    expect(classifyError(new BitPredictError('ERR_VALIDATION', 'x'))).toMatchObject({ code: 'ERR_VALIDATION', retryable: false });
    expect(classifyError(new BitPredictError('ERR_REDIS_UNREACHABLE', 'x'))).toMatchObject({ code: 'ERR_REDIS_UNREACHABLE', retryable: true });
  });

  it('treats unknown errors as retryable handler errors (bounded by maxAttempts)', () => {
    expect(classifyError(new TypeError('bug'))).toEqual({ code: 'ERR_HANDLER', retryable: true, message: 'bug' });
    expect(classifyError('a string')).toMatchObject({ code: 'ERR_HANDLER', message: 'a string' });
  });

  it('maps kafkajs errors: refused connections, retriable and fatal ones', () => {
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      retriable: false,
    });
    expect(toKafkaError(refused, ['127.0.0.1:1'])).toMatchObject({ code: 'ERR_KAFKA_UNREACHABLE', retryable: true });
    expect(toKafkaError(refused, ['127.0.0.1:1']).message).toMatch(/127\.0\.0\.1:1.*stack:up/);
    const leader = Object.assign(new Error('This server is not the leader for that topic-partition'), { name: 'KafkaJSProtocolError', retriable: true });
    expect(toKafkaError(leader, [])).toMatchObject({ code: 'ERR_KAFKA_RETRIABLE', retryable: true });
    const fatal = Object.assign(new Error('Topic authorization failed'), { name: 'KafkaJSProtocolError', retriable: false });
    expect(toKafkaError(fatal, [])).toMatchObject({ code: 'ERR_KAFKA', retryable: false });
  });
});
