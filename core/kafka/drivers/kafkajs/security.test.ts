// The kafkajs security error mapping with the configured settings named, on errors built with
// kafkajs' own classes (errors.test.ts covers the same mapping through toKafkaError without them).
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { KafkaSecurity } from '../../driver.js';
import { toKafkaError } from './errors.js';
import { classifySecurityError } from './security.js';

const SECRET = 'pa55-w0rd';
const PLAIN: KafkaSecurity = {
  tls: { rejectUnauthorized: true },
  sasl: { mechanism: 'plain', username: 'KEY123', password: SECRET },
  origin: {
    tls: "BITPREDICT_KAFKA_SSL_CA_FILE (empty: the system's CAs)",
    sasl: 'BITPREDICT_KAFKA_SASL_MECHANISM=PLAIN, BITPREDICT_KAFKA_SASL_USERNAME=KEY123, BITPREDICT_KAFKA_SASL_PASSWORD',
  },
};
type ErrorClass = new (e: Error | string, options?: { cause?: Error }) => Error;
const retriesExceeded = (e: Error): Error => new kafkajs.KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 1000 });
const tlsFailure = (code: string, message: string): Error =>
  new kafkajs.KafkaJSConnectionError(`Connection error: ${message}`, { broker: 'pkc-1.example:9092', code });

describe('classifySecurityError (kafkajs)', () => {
  it('a refused login is ERR_KAFKA_AUTH naming the configured keys, never the password', () => {
    const refused = new (kafkajs.KafkaJSSASLAuthenticationError as ErrorClass)(
      'SASL PLAIN authentication failed: Authentication failed: Invalid username or password',
    );
    const e = classifySecurityError(refused, PLAIN, ['pkc-1.example:9092']);
    expect(e).toMatchObject({ code: 'ERR_KAFKA_AUTH', retryable: false });
    expect(e?.message).toContain(
      'broker at pkc-1.example:9092 refused the SASL login (SASL PLAIN authentication failed: Authentication failed: Invalid username or password)',
    );
    expect(e?.message).toContain(PLAIN.origin!.sasl);
    expect(e?.message).not.toContain(SECRET);
    // toKafkaError asks it first, with the security the driver passes in its context.
    expect(toKafkaError(refused, { brokers: ['x:1'], security: PLAIN }).message).toContain('BITPREDICT_KAFKA_SASL_USERNAME=KEY123');
  });

  it('an unknown CA names the CA setting; a host name mismatch names the brokers and BITPREDICT_KAFKA_SSL_VERIFY', () => {
    const ca = classifySecurityError(retriesExceeded(tlsFailure('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate')), PLAIN);
    expect(ca).toMatchObject({ code: 'ERR_KAFKA_TLS', retryable: false });
    expect(ca?.message).toContain(
      "broker at pkc-1.example:9092 failed (unable to get local issuer certificate); the broker's certificate is not signed by a CA",
    );
    expect(ca?.message).toContain('BITPREDICT_KAFKA_SSL_CA_FILE');
    const host = classifySecurityError(
      tlsFailure(
        'ERR_TLS_CERT_ALTNAME_INVALID',
        "Hostname/IP does not match certificate's altnames: Host: pkc-1.example. is not in the cert's altnames: DNS:other",
      ),
      PLAIN,
    );
    expect(host?.message).toContain('BITPREDICT_KAFKA_BROKERS');
    expect(host?.message).toContain('BITPREDICT_KAFKA_SSL_VERIFY=false');
  });

  it('leaves other errors alone', () => {
    expect(classifySecurityError(new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { code: 'ECONNREFUSED' }), PLAIN)).toBeNull();
    expect(classifySecurityError(new Error('boom'))).toBeNull();
  });
});
