import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { BitPredictError } from '../errors.js';
import { PLAINTEXT } from './driver.js';
import { aclFailureOf, aclRefusedError, kafkaSecurityFromConfig, principalOf, withAclResources } from './security.js';

const dir = mkdtempSync(join(tmpdir(), 'bp-kafka-security-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
const SECRET = 's3cr3t-Pa55';

const security = (env: Record<string, string>) => kafkaSecurityFromConfig(loadConfig(env).kafka.security);

/** The ERR_CONFIG_INVALID that `f` throws. */
function configError(f: () => unknown): BitPredictError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(BitPredictError);
    expect((err as BitPredictError).code).toBe('ERR_CONFIG_INVALID');
    return err as BitPredictError;
  }
  throw new Error('expected ERR_CONFIG_INVALID');
}

describe('kafkaSecurityFromConfig', () => {
  it('is plaintext by default', () => {
    expect(security({})).toBe(PLAINTEXT);
  });

  it('reads the CA, client certificate and key files for SSL', () => {
    const ca = file('ca.pem', CERT);
    const s = security({
      BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SSL',
      BITPREDICT_KAFKA_SSL_CA_FILE: ca,
      BITPREDICT_KAFKA_SSL_CERT_FILE: file('client.pem', CERT),
      BITPREDICT_KAFKA_SSL_KEY_FILE: file('client.key', KEY),
    });
    expect(s.tls).toEqual({ ca: CERT, cert: CERT, key: KEY, rejectUnauthorized: true });
    expect(s.sasl).toBeNull();
    expect(s.origin?.tls).toContain(`BITPREDICT_KAFKA_SSL_CA_FILE=${ca}`);
    // No CA file: the system's CAs; verification can be turned off for test clusters.
    expect(security({ BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SSL', BITPREDICT_KAFKA_SSL_VERIFY: 'false' }).tls).toEqual({ rejectUnauthorized: false });
  });

  it('reads SCRAM credentials, the password from a mounted Secret file (one trailing newline dropped)', () => {
    const pw = file('password', `${SECRET}\n`);
    const s = security({
      BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      BITPREDICT_KAFKA_SSL_CA_FILE: file('ca2.pem', CERT),
      BITPREDICT_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      BITPREDICT_KAFKA_SASL_USERNAME: 'svc-features',
      BITPREDICT_KAFKA_SASL_PASSWORD_FILE: pw,
    });
    expect(s.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc-features', password: SECRET });
    expect(s.origin?.sasl).toBe(
      `BITPREDICT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512, BITPREDICT_KAFKA_SASL_USERNAME=svc-features, BITPREDICT_KAFKA_SASL_PASSWORD_FILE=${pw}`,
    );
    expect(JSON.stringify(s.origin)).not.toContain(SECRET);
    const plain = security({
      BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      BITPREDICT_KAFKA_SASL_MECHANISM: 'PLAIN',
      BITPREDICT_KAFKA_SASL_USERNAME: 'u',
      BITPREDICT_KAFKA_SASL_PASSWORD: SECRET,
    });
    expect(plain).toMatchObject({ tls: null, sasl: { mechanism: 'plain', username: 'u', password: SECRET } });
    expect(plain.origin?.sasl).toContain('BITPREDICT_KAFKA_SASL_PASSWORD');
  });

  it('reads the OAUTHBEARER token file again at every authentication', async () => {
    const path = file('token', 'token-1\n');
    const s = security({
      BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      BITPREDICT_KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
      BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE: path,
    });
    const sasl = s.sasl as { mechanism: string; token: () => Promise<string> };
    expect(sasl.mechanism).toBe('oauthbearer');
    expect(await sasl.token()).toBe('token-1');
    writeFileSync(path, 'token-2');
    expect(await sasl.token()).toBe('token-2');
    rmSync(path);
    const gone = await sasl.token().catch((err: unknown) => err);
    expect(gone).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect((gone as Error).message).toContain(`BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE=${path} cannot be read`);
  });

  it('refuses a SASL protocol without a mechanism, and a password given twice, naming the keys', () => {
    expect(configError(() => security({ BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' })).message).toContain(
      'BITPREDICT_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs BITPREDICT_KAFKA_SASL_MECHANISM',
    );
    const twice = configError(() =>
      security({
        BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        BITPREDICT_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
        BITPREDICT_KAFKA_SASL_USERNAME: 'u',
        BITPREDICT_KAFKA_SASL_PASSWORD: SECRET,
        BITPREDICT_KAFKA_SASL_PASSWORD_FILE: file('pw2', SECRET),
      }),
    );
    expect(twice.message).toContain('BITPREDICT_KAFKA_SASL_PASSWORD and BITPREDICT_KAFKA_SASL_PASSWORD_FILE are both set');
    expect(twice.message).not.toContain(SECRET);
    const missing = configError(() => security({ BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', BITPREDICT_KAFKA_SASL_MECHANISM: 'PLAIN' }));
    expect(missing.details?.problems).toEqual([
      'BITPREDICT_KAFKA_SASL_MECHANISM=PLAIN needs BITPREDICT_KAFKA_SASL_USERNAME',
      'BITPREDICT_KAFKA_SASL_MECHANISM=PLAIN needs BITPREDICT_KAFKA_SASL_PASSWORD_FILE or BITPREDICT_KAFKA_SASL_PASSWORD',
    ]);
  });

  it('names the key and the path of a file it cannot read, or that holds the wrong thing', () => {
    const nowhere = join(dir, 'nowhere', 'ca.pem');
    const e = configError(() =>
      security({
        BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        BITPREDICT_KAFKA_SSL_CA_FILE: nowhere,
        BITPREDICT_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        BITPREDICT_KAFKA_SASL_USERNAME: 'u',
        BITPREDICT_KAFKA_SASL_PASSWORD_FILE: join(dir, 'no-password'),
      }),
    );
    expect(e.details?.problems).toEqual([
      `BITPREDICT_KAFKA_SSL_CA_FILE=${nowhere} cannot be read (ENOENT: no such file or directory)`,
      `BITPREDICT_KAFKA_SASL_PASSWORD_FILE=${join(dir, 'no-password')} cannot be read (ENOENT: no such file or directory)`,
    ]);
    const notPem = file('secret-in-ca-slot', SECRET);
    const wrong = configError(() => security({ BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SSL', BITPREDICT_KAFKA_SSL_CA_FILE: notPem }));
    expect(wrong.message).toContain(`BITPREDICT_KAFKA_SSL_CA_FILE=${notPem} is not a PEM file holding a certificate`);
    expect(wrong.message).not.toContain(SECRET);
  });

  it('refuses keys the protocol does not use (a forgotten BITPREDICT_KAFKA_SECURITY_PROTOCOL)', () => {
    const e = configError(() =>
      security({ BITPREDICT_KAFKA_SSL_CA_FILE: file('ca3.pem', CERT), BITPREDICT_KAFKA_SASL_MECHANISM: 'PLAIN', BITPREDICT_KAFKA_SASL_PASSWORD: SECRET }),
    );
    expect(e.details?.problems).toEqual([
      'BITPREDICT_KAFKA_SSL_CA_FILE is set but BITPREDICT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS (use SSL or SASL_SSL)',
      'BITPREDICT_KAFKA_SASL_MECHANISM is set but BITPREDICT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL (use SASL_PLAINTEXT or SASL_SSL)',
      'BITPREDICT_KAFKA_SASL_PASSWORD is set but BITPREDICT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL (use SASL_PLAINTEXT or SASL_SSL)',
    ]);
    expect(e.message).not.toContain(SECRET);
    expect(configError(() => security({ BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SSL', BITPREDICT_KAFKA_SSL_CERT_FILE: file('c.pem', CERT) })).message).toContain(
      'BITPREDICT_KAFKA_SSL_CERT_FILE and BITPREDICT_KAFKA_SSL_KEY_FILE go together',
    );
    expect(() => loadConfig({ BITPREDICT_KAFKA_SASL_MECHANISM: 'GSSAPI' })).toThrow(/BITPREDICT_KAFKA_SASL_MECHANISM: "GSSAPI" is not one of PLAIN/);
  });
});

describe('ACL refusals (ERR_KAFKA_ACL)', () => {
  it("tells the resource kind from either driver's words and names the principal", () => {
    expect(aclFailureOf(['KafkaJSProtocolError', 'CLUSTER_AUTHORIZATION_FAILED'])).toBe('cluster');
    expect(
      aclFailureOf(['Received response with error while executing API FindCoordinator(v6) <- GROUP_AUTHORIZATION_FAILED: Group authorization failed.']),
    ).toBe('group');
    expect(aclFailureOf(['Not authorized to access topics: [Topic authorization failed]'])).toBe('topic');
    expect(aclFailureOf(['Transactional Id authorization failed.'])).toBe('transactional id');
    expect(aclFailureOf(['SASL_AUTHENTICATION_FAILED', 'connect ECONNREFUSED'])).toBeNull();
    const sec = { tls: { rejectUnauthorized: true }, sasl: { mechanism: 'scram-sha-512' as const, username: 'svc', password: 'hunter2' } };
    const err = withAclResources(aclRefusedError(sec, 'group', 'GROUP_AUTHORIZATION_FAILED', null), 'group g1, topic t1');
    expect(err).toMatchObject({ code: 'ERR_KAFKA_ACL', retryable: false });
    expect(err.message).toContain('User:svc (BITPREDICT_KAFKA_SASL_USERNAME)');
    expect(err.message).toContain('[group g1, topic t1]');
    expect(err.message).not.toContain('hunter2');
    expect(principalOf(undefined)).toContain('User:ANONYMOUS');
  });
});
