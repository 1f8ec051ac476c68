// Which kafkajs errors are a refused SASL login or a failed TLS handshake. toKafkaError asks this
// first, so these never pass for an unreachable cluster or a retriable error: a wrong password or
// an untrusted broker certificate does not fix itself, and retrying would only delay the message
// that names the setting to fix.
import type { KafkaSecurity } from '../../driver.js';
import type { BitPredictError } from '../../../errors.js';
import { aclFailureOf, aclRefusedError, saslRefusedError, tlsFailedError, tlsFailureOf } from '../../security.js';
import { chainOf } from './chain.js';

/** ERR_KAFKA_AUTH or ERR_KAFKA_TLS for a kafkajs error that is one, else null. */
export function classifySecurityError(err: unknown, security?: KafkaSecurity, brokers: string[] = []): BitPredictError | null {
  const chain = chainOf(err);
  const broker = chain.find((c) => typeof c.broker === 'string')?.broker ?? brokers.join(', ');
  const auth = chain.find((e) => e.name === 'KafkaJSSASLAuthenticationError');
  if (auth) return saslRefusedError(security, broker, auth.message ?? 'SASL authentication failed', err);
  // Authorization failures: the error's type, or (topic creation) the messages of an aggregate's errors.
  const texts = chain.flatMap((e) => [e.type ?? '', e.message ?? '', ...innerMessages(e)]);
  const acl = aclFailureOf(texts);
  if (acl) return aclRefusedError(security, acl, texts.filter((t) => /authoriz/i.test(t))[0] ?? 'authorization failed', err);
  for (const e of chain) {
    const code = typeof e.code === 'string' ? e.code : '';
    const kind = tlsFailureOf(code, e.message ?? '');
    if (kind) return tlsFailedError(security, broker, kind, (e.message ?? code).replace(/^Connection error: /, ''), err);
  }
  return null;
}

/** The messages of a KafkaJSAggregateError's errors (createTopics reports one per topic). */
function innerMessages(e: unknown): string[] {
  const errors = (e as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors.map((x: unknown) => {
    const message = (x as { message?: unknown } | null)?.message;
    return typeof message === 'string' ? message : '';
  });
}
