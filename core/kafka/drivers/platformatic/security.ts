// BitPredict's KafkaSecurity as @platformatic/kafka's `tls` and `sasl` connection options, and
// which of its errors are a refused SASL login or a failed TLS handshake. @platformatic/kafka
// 1.35 has PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (and GSSAPI through a custom
// authenticator, which BitPredict does not offer); the token is a provider that the client calls
// at every (re)authentication, so a rotated token file is picked up.
import { isIP } from 'node:net';
import type { BaseOptions, SASLOptions } from '@platformatic/kafka';
import type { BitPredictError } from '../../../errors.js';
import type { KafkaSecurity } from '../../driver.js';
import { aclFailureOf, aclRefusedError, saslRefusedError, tlsFailedError, tlsFailureOf } from '../../security.js';
import { chain } from './chain.js';

const MECHANISMS = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512', oauthbearer: 'OAUTHBEARER' } as const;

/**
 * `tls` and `sasl` options for a security description (neither for a plaintext listener). With
 * `brokers` given, SNI is sent when they are host names (managed clusters such as Confluent Cloud
 * route on it), as kafkajs does; Node refuses an IP address as a server name.
 */
export function platformaticSecurityOptions(sec: KafkaSecurity, brokers: readonly string[] = []): Pick<BaseOptions, 'tls' | 'sasl' | 'tlsServerName'> {
  const out: Pick<BaseOptions, 'tls' | 'sasl' | 'tlsServerName'> = {};
  if (sec.tls) {
    const { ca, cert, key, rejectUnauthorized } = sec.tls;
    out.tls = { rejectUnauthorized, ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) };
    if (brokers.length > 0 && brokers.every((b) => isIP(b.replace(/^\[?(.*?)\]?:\d+$/, '$1')) === 0)) out.tlsServerName = true;
  }
  if (sec.sasl) out.sasl = saslOptions(sec.sasl);
  return out;
}

function saslOptions(sasl: NonNullable<KafkaSecurity['sasl']>): SASLOptions {
  if (sasl.mechanism === 'oauthbearer') {
    const token = sasl.token;
    return { mechanism: MECHANISMS.oauthbearer, token: () => token() };
  }
  return { mechanism: MECHANISMS[sasl.mechanism], username: sasl.username, password: sasl.password };
}

// Kafka's answers to a refused login (SaslHandshake, SaslAuthenticate).
const SASL_API_IDS = new Set(['SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE']);

/** The broker of "Connection to host:port failed." somewhere in the chain. */
function brokerOf(err: unknown): string | undefined {
  for (const e of chain(err)) {
    const m = typeof e.message === 'string' ? /Connection to (\S+:\d+) failed/.exec(e.message) : null;
    if (m) return m[1];
  }
  return undefined;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** ERR_KAFKA_AUTH or ERR_KAFKA_TLS for a @platformatic/kafka error that is one, else null. */
export function classifySecurityError(err: unknown, security?: KafkaSecurity, brokers: string[] = []): BitPredictError | null {
  const broker = brokerOf(err) ?? brokers.join(', ');
  for (const e of chain(err)) {
    if (e.code === 'PLT_KFK_AUTHENTICATION' || SASL_API_IDS.has(text(e.apiId))) {
      // The broker's own words (the innermost message) say more than "SASL authentication failed."
      const inner = [...chain(e)].map((x) => text(x.message)).filter((m) => m !== '');
      return saslRefusedError(security, broker, inner.slice(-1)[0] ?? 'SASL authentication failed', err);
    }
  }
  // Authorization failures: the broker's error name is in the response error's message ("<- TOPIC_AUTHORIZATION_FAILED").
  const texts = [...chain(err)].flatMap((e) => [text(e.apiId), text(e.message)]);
  const acl = aclFailureOf(texts);
  if (acl) return aclRefusedError(security, acl, texts.filter((t) => /authoriz/i.test(t)).slice(-1)[0] ?? 'authorization failed', err);
  for (const e of chain(err)) {
    const kind = tlsFailureOf(text(e.code), text(e.message));
    if (kind) return tlsFailedError(security, broker, kind, text(e.message) || text(e.code), err);
  }
  return null;
}

// toError (base.ts) is called with the settings' brokers array by every client of the driver,
// and nothing else of the settings; the driver registers its security under that array so the
// messages can name the configured keys and files.
const securityByBrokers = new WeakMap<readonly string[], KafkaSecurity>();

export function registerSecurity(brokers: readonly string[], security: KafkaSecurity): void {
  securityByBrokers.set(brokers, security);
}

export function securityOf(brokers: readonly string[]): KafkaSecurity | undefined {
  return securityByBrokers.get(brokers);
}
