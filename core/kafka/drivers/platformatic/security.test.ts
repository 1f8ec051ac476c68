// The @platformatic/kafka security options and error mapping, on error objects built with the
// library's own classes and nested the way it nests them on the real broker (a MultipleErrors of
// the connection retries, each a NetworkError "Connection to host:port failed." with the cause).
import { AuthenticationError, MultipleErrors, NetworkError, ProtocolError, UserError } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../logger.js';
import { PLAINTEXT, type KafkaSecurity } from '../../driver.js';
import { baseOptions, toError } from './base.js';
import { classifySecurityError, platformaticSecurityOptions, registerSecurity } from './security.js';

const SECRET = 'pa55-w0rd';
const SCRAM: KafkaSecurity = {
  tls: { ca: 'CA', rejectUnauthorized: true },
  sasl: { mechanism: 'scram-sha-512', username: 'svc', password: SECRET },
  origin: {
    tls: 'BITPREDICT_KAFKA_SSL_CA_FILE=/etc/kafka/ca.pem',
    sasl: 'BITPREDICT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512, BITPREDICT_KAFKA_SASL_USERNAME=svc, BITPREDICT_KAFKA_SASL_PASSWORD_FILE=/run/secrets/pw',
  },
};

/** What a connect that kept failing the same way rejects with. */
const retried = (cause: Error, times = 3): Error =>
  new MultipleErrors(
    `connect failed ${times} times.`,
    Array.from({ length: times }, () => new NetworkError('Connection to 10.0.0.7:9094 failed.', { cause })),
  );
const refusedLogin = (): Error =>
  new AuthenticationError('SASL authentication failed.', {
    cause: new MultipleErrors('Received response with error', [new ProtocolError('SASL_AUTHENTICATION_FAILED')]),
  });
const socketError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe('platformaticSecurityOptions', () => {
  it('gives neither tls nor sasl for a plaintext listener', () => {
    expect(platformaticSecurityOptions(PLAINTEXT)).toEqual({});
  });

  it('maps TLS material and each SASL mechanism; SNI only for host names', () => {
    expect(platformaticSecurityOptions(SCRAM, ['kafka-0.example.com:9094'])).toEqual({
      tls: { ca: 'CA', rejectUnauthorized: true },
      tlsServerName: true,
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'svc', password: SECRET },
    });
    expect(platformaticSecurityOptions(SCRAM, ['127.0.0.1:9094'])).not.toHaveProperty('tlsServerName');
    for (const [mechanism, name] of [
      ['plain', 'PLAIN'],
      ['scram-sha-256', 'SCRAM-SHA-256'],
    ] as const) {
      expect(platformaticSecurityOptions({ tls: null, sasl: { mechanism, username: 'u', password: 'p' } })).toEqual({
        sasl: { mechanism: name, username: 'u', password: 'p' },
      });
    }
  });

  it('hands OAUTHBEARER a token provider that asks the source again each time', async () => {
    let n = 0;
    const opts = platformaticSecurityOptions({ tls: null, sasl: { mechanism: 'oauthbearer', token: async () => `t${++n}` } });
    expect(opts.sasl?.mechanism).toBe('OAUTHBEARER');
    const token = opts.sasl?.token as () => Promise<string>;
    expect([await token(), await token()]).toEqual(['t1', 't2']);
  });
});

describe('classifySecurityError (@platformatic/kafka)', () => {
  it('a refused login is ERR_KAFKA_AUTH naming the broker, mechanism, user and password file, never the password', () => {
    for (const err of [refusedLogin(), retried(refusedLogin()), new ProtocolError('UNSUPPORTED_SASL_MECHANISM')]) {
      const e = classifySecurityError(err, SCRAM);
      expect(e).toMatchObject({ code: 'ERR_KAFKA_AUTH', retryable: false });
      expect(e?.message).toContain(SCRAM.origin!.sasl);
      expect(e?.message).not.toContain(SECRET);
    }
    expect(classifySecurityError(retried(refusedLogin()), SCRAM)?.message).toContain('broker at 10.0.0.7:9094');
    // Without the configured origin, the keys to check are still named.
    const bare = classifySecurityError(refusedLogin(), undefined, ['b:9094']);
    expect(bare?.message).toContain('BITPREDICT_KAFKA_SASL_USERNAME and BITPREDICT_KAFKA_SASL_PASSWORD or BITPREDICT_KAFKA_SASL_PASSWORD_FILE');
    expect(bare?.message).toContain('broker at b:9094');
  });

  it('an untrusted certificate, a host name mismatch and a non-TLS port are ERR_KAFKA_TLS with the setting to check', () => {
    const untrusted = classifySecurityError(retried(socketError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain')), SCRAM);
    expect(untrusted).toMatchObject({ code: 'ERR_KAFKA_TLS', retryable: false });
    expect(untrusted?.message).toContain('not signed by a CA this client trusts; check BITPREDICT_KAFKA_SSL_CA_FILE=/etc/kafka/ca.pem');
    const host = classifySecurityError(
      retried(socketError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: IP: 10.0.0.7 is not in the cert's list: ")),
      SCRAM,
    );
    expect(host?.message).toContain('BITPREDICT_KAFKA_SSL_VERIFY');
    const plaintextPort = classifySecurityError(
      new NetworkError('Connection to 10.0.0.7:9092 failed.', { cause: new UserError('TLS handshake failed. Please verify the broker supports TLS.') }),
    );
    expect(plaintextPort?.message).toContain('BITPREDICT_KAFKA_SECURITY_PROTOCOL');
  });

  it('leaves other errors alone (an unreachable broker stays ERR_KAFKA_UNREACHABLE)', () => {
    expect(classifySecurityError(retried(socketError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.7:9094')), SCRAM)).toBeNull();
    expect(toError(retried(socketError('ECONNREFUSED', 'connect ECONNREFUSED')), ['10.0.0.7:9094']).code).toBe('ERR_KAFKA_UNREACHABLE');
  });

  it("toError asks it first, with the security the driver registered for the settings' brokers", () => {
    const brokers = ['10.0.0.7:9094'];
    registerSecurity(brokers, SCRAM);
    const e = toError(retried(refusedLogin()), brokers);
    expect(e.code).toBe('ERR_KAFKA_AUTH');
    expect(e.message).toContain('BITPREDICT_KAFKA_SASL_PASSWORD_FILE=/run/secrets/pw');
  });

  it('retries a refused login or failed handshake without waiting, other connection errors with backoff', () => {
    const opts = baseOptions({ brokers: ['b:1'], clientId: 'c', connectRetries: 5, security: SCRAM, logger: createLogger({ level: 'silent' }) });
    const delay = opts.retryDelay as (client: unknown, op: string, attempt: number, retries: number, error: Error) => number;
    expect(delay(null, 'connect', 3, 5, retried(refusedLogin()))).toBe(0);
    expect(delay(null, 'connect', 3, 5, retried(socketError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate')))).toBe(0);
    expect(delay(null, 'connect', 3, 5, retried(socketError('ECONNREFUSED', 'connect ECONNREFUSED')))).toBe(1200);
  });
});
