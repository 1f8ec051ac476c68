import { AuthenticationError, MultipleErrors, NetworkError, ProtocolError, UnsupportedApiError, compatibilityPartitioner } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { createPartitioner, murmur2, retryDelayMs, toError } from './base.js';

describe('murmur2 (Java-compatible key partitioning)', () => {
  it("matches the Java client's test vectors", () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(Buffer.from(key))).toBe(hash);
  });

  it("agrees with @platformatic/kafka's compatibility partitioner on random keys", () => {
    const partition = createPartitioner();
    for (let i = 0; i < 2000; i++) {
      const key = Buffer.from(`${i}:${Math.random().toString(36)}`.repeat(1 + (i % 4)));
      expect(partition(undefined, key)).toBe(compatibilityPartitioner(undefined as never, key));
    }
  });

  it('sends keyless records round-robin', () => {
    const partition = createPartitioner();
    expect([partition(undefined, undefined), partition(undefined, undefined), partition(undefined, undefined)]).toEqual([0, 1, 2]);
  });
});

describe('toError (@platformatic/kafka errors to ERR_* codes)', () => {
  const brokers = ['127.0.0.1:1'];

  it('an unreachable cluster is ERR_KAFKA_UNREACHABLE with the addresses tried, retryable', () => {
    const refused = new MultipleErrors('listApis failed 3 times.', [
      new NetworkError('Connection failed.', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }),
    ]);
    const e = toError(refused, brokers);
    expect(e.code).toBe('ERR_KAFKA_UNREACHABLE');
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('127.0.0.1:1');
  });

  it('a fenced producer is ERR_KAFKA_FENCED, not retryable', () => {
    for (const id of ['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']) {
      const e = toError(new MultipleErrors('Received response with error while executing API EndTxn(v3)', [new ProtocolError(id)]), brokers);
      expect(e.code).toBe('ERR_KAFKA_FENCED');
      expect(e.retryable).toBe(false);
    }
  });

  it('a broker without the needed API versions is ERR_KAFKA_VERSION naming BITPREDICT_KAFKA_CLIENT', () => {
    for (const err of [new UnsupportedApiError('No usable implementation found for API Fetch.'), new ProtocolError('UNSUPPORTED_VERSION')]) {
      const e = toError(err, brokers);
      expect(e.code).toBe('ERR_KAFKA_VERSION');
      expect(e.message).toContain('BITPREDICT_KAFKA_CLIENT=platformatic');
    }
  });

  it("keeps the chain's retryable flag: retriable protocol errors ERR_KAFKA_RETRIABLE, others ERR_KAFKA, with the inner message", () => {
    const retriable = toError(new MultipleErrors('fetch failed', [new ProtocolError('NOT_LEADER_OR_FOLLOWER')]), brokers);
    expect(retriable.code).toBe('ERR_KAFKA_RETRIABLE');
    expect(retriable.message).toContain('NOT_LEADER_OR_FOLLOWER');
    const fatal = toError(new MultipleErrors('create failed', [new ProtocolError('INVALID_REPLICATION_FACTOR')]), brokers);
    expect(fatal.code).toBe('ERR_KAFKA');
    expect(fatal.retryable).toBe(false);
    expect(toError(new Error('boom'), brokers).code).toBe('ERR_KAFKA');
  });

  it('passes a BitPredictError through unchanged, and never reports an authentication failure as unreachable', () => {
    const auth = toError(new AuthenticationError('SASL authentication failed.'), brokers);
    expect(auth.code).not.toBe('ERR_KAFKA_UNREACHABLE');
    expect(toError(auth, brokers)).toBe(auth);
  });
});

describe('retryDelayMs', () => {
  it('backs off from 300 ms to 5 s, and from 20 ms when the broker answered CONCURRENT_TRANSACTIONS', () => {
    expect([1, 2, 3, 5, 9].map((a) => retryDelayMs(a, new Error('connection refused')))).toEqual([300, 600, 1200, 4800, 5000]);
    const concurrent = new MultipleErrors('addPartitionsToTxn failed 1 times.', [new ProtocolError('CONCURRENT_TRANSACTIONS')]);
    expect([1, 2, 3, 9].map((a) => retryDelayMs(a, concurrent))).toEqual([20, 40, 80, 5000]);
    expect(retryDelayMs(1)).toBe(300);
  });
});
