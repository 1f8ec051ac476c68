// The kafkajs error mapping, on error objects built with kafkajs' own classes and wrapped the way
// kafkajs wraps them (a connection error inside the retrier's errors, with `cause`).
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../../errors.js';
import { toKafkaError } from './errors.js';

const ctx = { brokers: ['10.0.0.1:9093', '10.0.0.2:9093'] };

/** A broker's error response, as kafkajs builds it from the error code table. */
function protocolError(type: string, code: number, message: string, retriable = false): Error {
  return new kafkajs.KafkaJSProtocolError({ type, code, retriable, message } as unknown as Error);
}

/** What the retrier throws once it gives up: the last error, wrapped. */
const retriesExceeded = (e: Error): Error => new kafkajs.KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 1000 });
// kafkajs' typings leave out some constructor arguments its classes take.
type ErrorClass = new (e: Error | string, options?: { cause?: Error }) => Error;

/** What the retrier throws for a non-retriable error. */
const nonRetriable = (e: Error): Error => new (kafkajs.KafkaJSNonRetriableError as ErrorClass)(e, { cause: e });

/** A socket error of a failed TLS handshake, as kafkajs' connection reports it. */
function tlsFailure(code: string, message: string): Error {
  return new kafkajs.KafkaJSConnectionError(`Connection error: ${message}`, { broker: '10.0.0.2:9093', code });
}

describe('toKafkaError (kafkajs)', () => {
  it('keeps a BitPredictError as it is', () => {
    const own = new BitPredictError('ERR_VALIDATION', 'x');
    expect(toKafkaError(own, ctx)).toBe(own);
  });

  it('maps refused connections, retriable and fatal errors as before the driver split', () => {
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      retriable: false,
    });
    expect(toKafkaError(refused, { brokers: ['127.0.0.1:1'] })).toMatchObject({ code: 'ERR_KAFKA_UNREACHABLE', retryable: true });
    // The local stack's hint only for the local stack's address; elsewhere the setting to check.
    expect(toKafkaError(refused, { brokers: ['127.0.0.1:1'] }).message).toBe(
      'no Kafka broker answered at 127.0.0.1:1 (check BITPREDICT_KAFKA_BROKERS and that it is reachable from here)',
    );
    expect(toKafkaError(refused, { brokers: ['127.0.0.1:9092'] }).message).toBe(
      'no Kafka broker answered at 127.0.0.1:9092 (is the stack up? run: npm run stack:up)',
    );
    const socket = retriesExceeded(new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' }));
    expect(toKafkaError(socket, ctx)).toMatchObject({ code: 'ERR_KAFKA_UNREACHABLE', retryable: true });
    const leader = Object.assign(new Error('This server is not the leader for that topic-partition'), { name: 'KafkaJSProtocolError', retriable: true });
    expect(toKafkaError(leader, ctx)).toMatchObject({ code: 'ERR_KAFKA_RETRIABLE', retryable: true });
    expect(toKafkaError(protocolError('NOT_LEADER_FOR_PARTITION', 6, 'not the leader', true), ctx)).toMatchObject({ code: 'ERR_KAFKA_RETRIABLE' });
    // The retrier's patience ran out on a retriable error (the coordinator moving): still retriable.
    const coordinator = retriesExceeded(protocolError('NOT_COORDINATOR', 16, 'This is not the correct coordinator for this group', true));
    expect(toKafkaError(coordinator, ctx)).toMatchObject({ code: 'ERR_KAFKA_RETRIABLE', retryable: true });
    expect(toKafkaError(coordinator, ctx).message).toBe('This is not the correct coordinator for this group (gave up after 5 retries)');
    expect(toKafkaError(retriesExceeded(protocolError('INVALID_TXN_STATE', 48, 'invalid state')), ctx)).toMatchObject({ code: 'ERR_KAFKA', retryable: false });
    // kafkajs gave up finding the group coordinator (the broker restarting): the brokers are away, not the request wrong.
    const noCoordinator = new (kafkajs.KafkaJSGroupCoordinatorNotFound as unknown as ErrorClass)('Failed to find group coordinator');
    expect(toKafkaError(noCoordinator, ctx)).toMatchObject({ code: 'ERR_KAFKA_RETRIABLE', retryable: true });
    const fatal = Object.assign(new Error('The request included a message larger than the max message size the server will accept'), {
      name: 'KafkaJSProtocolError',
      type: 'MESSAGE_TOO_LARGE',
      retriable: false,
    });
    expect(toKafkaError(fatal, ctx)).toMatchObject({ code: 'ERR_KAFKA', retryable: false, message: fatal.message });
    // The authorizer's refusal has a code of its own, naming the principal.
    const acl = Object.assign(new Error('Topic authorization failed'), { name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false });
    expect(toKafkaError(acl, ctx)).toMatchObject({ code: 'ERR_KAFKA_ACL', retryable: false });
    expect(toKafkaError(acl, ctx).message).toContain('access to a topic');
  });

  it('maps a fenced transactional producer to ERR_KAFKA_FENCED, naming the transactional id', () => {
    const epoch = protocolError(
      'INVALID_PRODUCER_EPOCH',
      47,
      "Producer attempted an operation with an old epoch. Either there is a newer producer with the same transactionalId, or the producer's transaction has been expired by the broker",
    );
    const wrapped = nonRetriable(epoch);
    const err = toKafkaError(wrapped, { ...ctx, transactionalId: 'bp-features-market.candles-2' });
    expect(err).toMatchObject({ code: 'ERR_KAFKA_FENCED', retryable: false });
    expect(err.message).toMatch(/transactional id bp-features-market\.candles-2 was taken over by another instance/);
    expect(err.cause).toBe(wrapped);
    expect(toKafkaError(protocolError('PRODUCER_FENCED', 90, 'fenced'), ctx).code).toBe('ERR_KAFKA_FENCED');
    // kafkajs 2.2 does not know error code 90 by name.
    expect(toKafkaError(protocolError('KAFKAJS_UNKNOWN_ERROR_CODE', -99, 'Unknown error code 90'), ctx).code).toBe('ERR_KAFKA_FENCED');
    expect(toKafkaError(protocolError('KAFKAJS_UNKNOWN_ERROR_CODE', -99, 'Unknown error code 900'), ctx).code).toBe('ERR_KAFKA');
    expect(toKafkaError(epoch, ctx).message).toMatch(/this producer's transactional id was taken over by another instance/);
  });

  it('maps an unsupported API version to ERR_KAFKA_VERSION, naming the client and the broker', () => {
    const version = toKafkaError(protocolError('UNSUPPORTED_VERSION', 35, 'The version of API is not supported'), ctx);
    expect(version).toMatchObject({ code: 'ERR_KAFKA_VERSION', retryable: false });
    expect(version.message).toMatch(/BITPREDICT_KAFKA_CLIENT=kafkajs/);
    expect(version.message).toMatch(/10\.0\.0\.1:9093, 10\.0\.0\.2:9093/);
    const apiKey = new kafkajs.KafkaJSServerDoesNotSupportApiKey('The Kafka server does not support the requested API version', {
      apiKey: 22,
      apiName: 'InitProducerId',
    });
    expect(toKafkaError(apiKey, ctx)).toMatchObject({ code: 'ERR_KAFKA_VERSION' });
    expect(toKafkaError(apiKey, ctx).message).toMatch(/the InitProducerId API/);
  });

  it('maps refused SASL credentials to ERR_KAFKA_AUTH, naming the settings to check', () => {
    const sasl = new (kafkajs.KafkaJSSASLAuthenticationError as ErrorClass)(
      'SASL SCRAM SHA256 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256',
    );
    for (const err of [sasl, nonRetriable(sasl)]) {
      const mapped = toKafkaError(err, ctx);
      expect(mapped).toMatchObject({ code: 'ERR_KAFKA_AUTH', retryable: false });
      expect(mapped.message).toMatch(/BITPREDICT_KAFKA_SASL_USERNAME/);
      expect(mapped.message).toMatch(/BITPREDICT_KAFKA_SASL_PASSWORD/);
      expect(mapped.message).toMatch(/invalid credentials/);
    }
  });

  it('maps failed TLS handshakes to ERR_KAFKA_TLS (not ERR_KAFKA_UNREACHABLE), naming the CA setting and the broker', () => {
    const failures = [
      tlsFailure('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'),
      tlsFailure('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'),
      tlsFailure('ERR_SSL_WRONG_VERSION_NUMBER', 'write EPROTO 40E8:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'),
      tlsFailure('EPROTO', 'write EPROTO handshake failure'),
      tlsFailure('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'),
    ];
    for (const failure of failures) {
      for (const err of [failure, retriesExceeded(failure)]) {
        const mapped = toKafkaError(err, ctx);
        expect(mapped, failure.message).toMatchObject({ code: 'ERR_KAFKA_TLS', retryable: false });
        expect(mapped.message).toMatch(/BITPREDICT_KAFKA_SSL_CA_FILE/);
        expect(mapped.message).toMatch(/broker at 10\.0\.0\.2:9093/);
      }
    }
  });
});
