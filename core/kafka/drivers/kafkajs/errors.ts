// kafkajs errors as BitPredictErrors, in one place. kafkajs wraps the failure that matters in its
// retry errors (KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError, with `cause`), so the
// specific conditions (a fenced producer, a broker too old, refused credentials, a failed TLS
// handshake) are looked for along the whole chain; then a connection failure becomes
// ERR_KAFKA_UNREACHABLE with the addresses tried, and kafkajs' own `retriable` flag becomes ours.
import { BitPredictError, errorMessage } from '../../../errors.js';
import type { KafkaSecurity } from '../../driver.js';
import { classifySecurityError } from './security.js';
import { chainOf, type KafkaJsErrorLike } from './chain.js';
import { isLocalStackKafka, unreachableHint } from '../../../stack-hint.js';

export interface ErrorContext {
  /** The bootstrap addresses, named when no broker answered. */
  brokers: string[];
  /** The transactional id of the producer that failed, named when it was fenced. */
  transactionalId?: string;
  /** The connection's TLS and SASL settings, named when the broker refuses them. */
  security?: KafkaSecurity;
}

const isFenced = (e: KafkaJsErrorLike): boolean =>
  e.type === 'INVALID_PRODUCER_EPOCH' ||
  e.type === 'PRODUCER_FENCED' ||
  // kafkajs 2.2 has no name for PRODUCER_FENCED (error code 90), which newer brokers may answer.
  (e.type === 'KAFKAJS_UNKNOWN_ERROR_CODE' && /\bUnknown error code 90\b/.test(e.message ?? ''));

const isVersion = (e: KafkaJsErrorLike): boolean => e.type === 'UNSUPPORTED_VERSION' || e.name === 'KafkaJSServerDoesNotSupportApiKey';

// Certificate codes and handshake failures are classifySecurityError's (it runs first, over the
// same chain); what is left to catch here is a certificate complaint it does not recognise.
const isTls = (e: KafkaJsErrorLike): boolean => /certificate/i.test(e.message ?? '');

/** The same test as before the driver split: refused or timed-out connections, however kafkajs wrapped them. */
function isConnection(err: unknown): boolean {
  const e = err as KafkaJsErrorLike | undefined;
  const name = e?.name ?? '';
  const message = errorMessage(err);
  return (
    name === 'KafkaJSConnectionError' ||
    (name === 'KafkaJSNonRetriableError' && /connect|ECONNREFUSED|Connection/i.test(message + errorMessage(e?.originalError))) ||
    (name === 'KafkaJSNumberOfRetriesExceeded' && /ECONNREFUSED|Connection|connect/i.test(errorMessage(e?.originalError) + message)) ||
    /ECONNREFUSED|Connection timeout|Failed to connect/i.test(message)
  );
}

/** The conditions with a code of their own, or null. */
function specific(err: unknown, ctx: ErrorContext): BitPredictError | null {
  const chain = chainOf(err);
  const found = (test: (e: KafkaJsErrorLike) => boolean): KafkaJsErrorLike | undefined => chain.find(test);
  // kafkajs names the broker of a failed connection; otherwise the bootstrap addresses say where.
  const broker = chain.find((c) => typeof c.broker === 'string')?.broker ?? ctx.brokers.join(', ');
  const cause = { cause: err };
  const fenced = found(isFenced);
  if (fenced) {
    const who = ctx.transactionalId === undefined ? "this producer's transactional id" : `transactional id ${ctx.transactionalId}`;
    return new BitPredictError(
      'ERR_KAFKA_FENCED',
      `${who} was taken over by another instance: this producer is fenced and must stop (${fenced.message ?? fenced.type})`,
      cause,
    );
  }
  const version = found(isVersion);
  if (version) {
    const api = version.apiName ? `the ${version.apiName} API` : 'an API';
    return new BitPredictError(
      'ERR_KAFKA_VERSION',
      `the Kafka broker at ${broker} does not support a version of ${api} that BITPREDICT_KAFKA_CLIENT=kafkajs needs (${version.message ?? version.type})`,
      cause,
    );
  }
  const tls = found(isTls);
  if (tls) {
    return new BitPredictError(
      'ERR_KAFKA_TLS',
      `the TLS handshake with the Kafka broker at ${broker} failed: ${tls.message} (check BITPREDICT_KAFKA_SSL_CA_FILE, the client certificate, and that the listener speaks TLS)`,
      cause,
    );
  }
  return null;
}

/**
 * kafkajs errors that mean the brokers are away or moving, not that a request was wrong: kafkajs
 * marks some of them non-retriable (it gave up finding a coordinator or a broker), but the next
 * attempt after a backoff is what a restarted process would do anyway.
 */
export const BROKERS_AWAY_ERRORS: ReadonlySet<string> = new Set([
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
]);

/** Any kafkajs error as a BitPredictError (unchanged when it is one already). */
export function toKafkaError(err: unknown, ctx: ErrorContext): BitPredictError {
  if (err instanceof BitPredictError) return err;
  const security = classifySecurityError(err, ctx.security, ctx.brokers);
  if (security) return security;
  const known = specific(err, ctx);
  if (known) return known;
  if (isConnection(err)) {
    return new BitPredictError(
      'ERR_KAFKA_UNREACHABLE',
      `no Kafka broker answered at ${ctx.brokers.join(', ')} (${unreachableHint(isLocalStackKafka(ctx.brokers), 'BITPREDICT_KAFKA_BROKERS')})`,
      {
        cause: err,
      },
    );
  }
  const message = errorMessage(err);
  if ((err as KafkaJsErrorLike | undefined)?.retriable) return new BitPredictError('ERR_KAFKA_RETRIABLE', message, { cause: err });
  const away = chainOf(err).find((e) => BROKERS_AWAY_ERRORS.has(e.name ?? ''));
  if (away) return new BitPredictError('ERR_KAFKA_RETRIABLE', message, { cause: err });
  // The retrier gave up on an error that is retriable in itself (NOT_COORDINATOR, a request timed
  // out, a leader moving): the condition is transient, only this call's patience ran out.
  const gaveUp = err as (KafkaJsErrorLike & { retryCount?: number }) | undefined;
  if (gaveUp?.name === 'KafkaJSNumberOfRetriesExceeded' && (gaveUp.cause as KafkaJsErrorLike | undefined)?.retriable === true) {
    return new BitPredictError('ERR_KAFKA_RETRIABLE', `${message} (gave up after ${gaveUp.retryCount ?? '?'} retries)`, { cause: err });
  }
  return new BitPredictError('ERR_KAFKA', message, { cause: err });
}
