import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isInfrastructureCrash, relaunchDelayMs } from './consumer.js';

const { KafkaJSGroupCoordinatorNotFound, KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSNonRetriableError } = kafkajs;
/** kafkajs' error classes, built as kafkajs builds them (its typings leave out their constructor arguments). */
const make = (C: unknown, ...args: unknown[]): Error => new (C as new (...a: unknown[]) => Error)(...args);

describe('relaunching a consumer that kafkajs gave up on', () => {
  it('relaunches after the brokers were away, anywhere in the cause chain', () => {
    expect(isInfrastructureCrash(make(KafkaJSGroupCoordinatorNotFound, 'Failed to find group coordinator'))).toBe(true);
    expect(isInfrastructureCrash(make(KafkaJSConnectionError, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'))).toBe(true);
    expect(isInfrastructureCrash(make(KafkaJSNumberOfRetriesExceeded, new Error('x'), { retryCount: 5, retryTime: 100 }))).toBe(true);
    expect(isInfrastructureCrash(make(KafkaJSNonRetriableError, 'wrapped', { cause: make(KafkaJSConnectionError, 'gone') }))).toBe(true);
  });

  it('leaves a crash of a bad request or a refusal to the process (fatal)', () => {
    expect(
      isInfrastructureCrash(
        make(KafkaJSProtocolError, { message: 'Not authorized to access topics', type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, retriable: false }),
      ),
    ).toBe(false);
    expect(isInfrastructureCrash(make(KafkaJSNonRetriableError, 'invalid config'))).toBe(false);
    expect(isInfrastructureCrash(new Error('handler bug'))).toBe(false);
    expect(isInfrastructureCrash(undefined)).toBe(false);
  });

  it('backs off from 1 s, doubling, to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(relaunchDelayMs)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
});
