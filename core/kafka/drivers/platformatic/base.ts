// What every @platformatic/kafka client of the driver shares: the connection options built from
// DriverSettings, the Java-compatible partitioner, and the mapping of its errors onto BitPredict's
// ERR_* codes with the same retryable flags as the kafkajs driver.
import { GenericError, MultipleErrors, type BaseOptions } from '@platformatic/kafka';
import { BitPredictError, errorMessage } from '../../../errors.js';
import type { DriverSettings } from '../../driver.js';
import { classifySecurityError, platformaticSecurityOptions, securityOf } from './security.js';
import { isLocalStackKafka, unreachableHint } from '../../../stack-hint.js';
import { chain } from './chain.js';

/** Connection options for any client of this driver; `retries` covers connecting (kept small). */
export function baseOptions(settings: DriverSettings, clientIdSuffix = ''): BaseOptions {
  return {
    clientId: `${settings.clientId}${clientIdSuffix}`,
    bootstrapBrokers: settings.brokers,
    connectTimeout: 3000,
    requestTimeout: 30000,
    timeout: 30000,
    retries: settings.connectRetries,
    // Exponential backoff from 300 ms to 5 s, like the kafkajs driver (from 20 ms for
    // CONCURRENT_TRANSACTIONS, see retryDelayMs). A refused login or a failed TLS handshake is
    // retried at once instead: @platformatic/kafka retries every connection error (it wraps both in
    // a retriable NetworkError), and waiting would only delay, by about ten seconds, the
    // ERR_KAFKA_AUTH / ERR_KAFKA_TLS that the retries cannot avoid.
    retryDelay: (_client, _op, attempt, _retries, error) => (classifySecurityError(error) ? 0 : retryDelayMs(attempt, error)),
    ...platformaticSecurityOptions(settings.security, settings.brokers),
  };
}

/**
 * Exponential backoff from 300 ms to 5 s, like the kafkajs driver; but from 20 ms (the Java
 * client's backoff for it) when the broker answered CONCURRENT_TRANSACTIONS: a transaction begun
 * right after the previous one's EndTxn is refused until the broker has written its markers, a
 * matter of milliseconds, and an exactly-once processor at live rates begins one per record
 * (e2e p99 was ~300 ms: one 300 ms wait).
 */
export function retryDelayMs(attempt: number, error?: unknown): number {
  const first = find(error, (e) => e.apiId === 'CONCURRENT_TRANSACTIONS') ? 20 : 300;
  return Math.min(5000, first * 2 ** Math.max(0, attempt - 1));
}

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's murmur2 (the Java client's and kafkajs' hash), in 32-bit integer arithmetic. A key must
 * land in the same partition whichever driver produced it: per-partition state, per-key order and
 * the candle producers' resume all depend on it.
 */
export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partitioner of every producer of this driver: murmur2 of the key, made positive as the Java
 * client does (the driver takes it modulo the partition count); keyless records go round-robin.
 */
export function createPartitioner(): (message: unknown, key: Buffer | undefined) => number {
  let next = 0;
  return (_message, key) => (key && key.length > 0 ? murmur2(key) & 0x7fffffff : next++ & 0x7fffffff);
}

function find(err: unknown, test: (e: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
  for (const e of chain(err)) if (test(e)) return e;
  return undefined;
}

const FENCED = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);

/** Is this a fencing error (another producer initialised the same transactional id)? */
export function isFenced(err: unknown): boolean {
  return find(err, (e) => FENCED.has(String(e.apiId))) !== undefined;
}

/** The first protocol error id in the chain (e.g. OFFSET_OUT_OF_RANGE), if any. */
export function protocolErrorId(err: unknown): string | undefined {
  const e = find(err, (x) => typeof x.apiId === 'string');
  return e ? String(e.apiId) : undefined;
}

/**
 * Maps any @platformatic/kafka error onto a BitPredictError: TLS and SASL failures first (they
 * name the setting), then an unreachable cluster (same words as the kafkajs driver), a fenced
 * producer, a broker without the API versions this client needs, and otherwise the error's own
 * canRetry flag (retryable only if every error in the chain is).
 */
export function toError(err: unknown, brokers: string[]): BitPredictError {
  if (err instanceof BitPredictError) return err;
  const security = classifySecurityError(err, securityOf(brokers), brokers);
  if (security) return security;
  const message = errorMessage(err);
  if (find(err, (e) => e.code === 'PLT_KFK_UNSUPPORTED_API' || e.apiId === 'UNSUPPORTED_VERSION')) {
    return new BitPredictError(
      'ERR_KAFKA_VERSION',
      `the broker at ${brokers.join(', ')} does not support an API version @platformatic/kafka needs (BITPREDICT_KAFKA_CLIENT=platformatic; Kafka 3.5 or later is required): ${detail(err)}`,
      { cause: err },
    );
  }
  if (isFenced(err)) {
    return new BitPredictError('ERR_KAFKA_FENCED', `another instance took over this transactional id: ${detail(err)}`, { cause: err });
  }
  const network = find(
    err,
    (e) => e.code === 'PLT_KFK_NETWORK' || (typeof e.code === 'string' && /ECONNREFUSED|EHOSTUNREACH|ENOTFOUND|ETIMEDOUT/.test(e.code)),
  );
  const anyProtocol = find(err, (e) => typeof e.apiId === 'string');
  if (network && !anyProtocol) {
    return new BitPredictError(
      'ERR_KAFKA_UNREACHABLE',
      `no Kafka broker answered at ${brokers.join(', ')} (${unreachableHint(isLocalStackKafka(brokers), 'BITPREDICT_KAFKA_BROKERS')})`,
      {
        cause: err,
      },
    );
  }
  const retriable = (GenericError.isGenericError(err as Error) || MultipleErrors.isMultipleErrors(err as Error)) && !find(err, (e) => e.canRetry === false);
  return new BitPredictError(retriable ? 'ERR_KAFKA_RETRIABLE' : 'ERR_KAFKA', detail(err) || message, { cause: err });
}

/** The message of an error chain, innermost causes included (platformatic's outer messages are generic). */
export function detail(err: unknown): string {
  const parts: string[] = [];
  for (const e of chain(err)) {
    const m = typeof e.message === 'string' ? e.message : '';
    const id = typeof e.apiId === 'string' ? `${e.apiId}: ` : '';
    const text = `${id}${m}`.trim();
    if (text && !parts.includes(text)) parts.push(text);
  }
  return parts.slice(0, 4).join(' <- ');
}
