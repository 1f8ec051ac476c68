// Secured connections on the real broker: the local stack's SASL_SSL listener (its CA made at
// first start, SCRAM and PLAIN logins), reached through the same configuration keys a deployment
// sets (BITPREDICT_KAFKA_SECURITY_PROTOCOL, _SSL_*, _SASL_*), on the driver BITPREDICT_KAFKA_CLIENT
// chooses. The listener's port and files come from the stack configuration, as `stack up` made them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../cli/stack/config.js';
import { formatHostPort, resolveLayout } from '../../cli/stack/layout.js';
import { isPortOpen } from '../../cli/stack/probe.js';
import { makeCertificateAuthority } from '../../cli/stack/secure.js';
import { loadConfig, type ConfigKey } from '../../core/config.js';
import { isBitPredictError } from '../../core/errors.js';
import { createAdmin, createKafkaClient, type KafkaAdmin, type KafkaClient } from '../../core/kafka/client.js';
import { readAll } from '../helpers/kafka-read.js';
import { createProducer, createTransactionalProducer } from '../../core/kafka/producer.js';
import { kafkaSecurityFromConfig } from '../../core/kafka/security.js';
import { createLogger } from '../../core/logger.js';
import { REPO_ROOT, uniqueId } from '../helpers/platform.js';

const secure = resolveLayout(loadStackConfig(process.env), REPO_ROOT).kafka.secure;
const driver = loadConfig(process.env).kafka.driver;
const logger = createLogger({ level: 'silent', name: 'kafka-secure-test' });
const run = uniqueId('secure');
const scratch = mkdtempSync(join(tmpdir(), 'bp-kafka-secure-'));

/** The keys a deployment sets to reach the stack's SASL_SSL listener, with `extra` on top. */
function secureEnv(extra: Partial<Record<ConfigKey, string>> = {}): Partial<Record<ConfigKey, string>> {
  return {
    BITPREDICT_KAFKA_BROKERS: formatHostPort(secure.listen),
    BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    BITPREDICT_KAFKA_SSL_CA_FILE: secure.caPem,
    BITPREDICT_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    BITPREDICT_KAFKA_SASL_USERNAME: secure.user,
    BITPREDICT_KAFKA_SASL_PASSWORD_FILE: secure.passwordFile,
    ...extra,
  };
}

/** A client built from configuration keys, the way createPlatform builds one. */
function clientFor(label: string, extra: Partial<Record<ConfigKey, string>> = {}, connectRetries?: number): KafkaClient {
  // Only this test's keys: the shell's plaintext BITPREDICT_KAFKA_* settings must not mix in.
  const config = loadConfig({ BITPREDICT_KAFKA_CLIENT: driver }, secureEnv(extra));
  return createKafkaClient(
    {
      brokers: config.kafka.brokers,
      clientId: `secure-test-${label}`,
      driver: config.kafka.driver,
      security: kafkaSecurityFromConfig(config.kafka.security),
      ...(connectRetries === undefined ? {} : { connectRetries }),
    },
    logger,
  );
}

/** The error `p` rejects with, and how long it took. */
async function failure(p: () => Promise<unknown>): Promise<{ code: string; message: string; retryable: boolean; ms: number }> {
  const start = Date.now();
  try {
    await p();
  } catch (err) {
    const ms = Date.now() - start;
    if (isBitPredictError(err)) return { code: err.code, message: err.message, retryable: err.retryable, ms };
    return { code: 'not a BitPredictError', message: String(err), retryable: false, ms };
  }
  return { code: 'no error', message: '', retryable: false, ms: Date.now() - start };
}

/** An unsigned JWT, as Kafka's unsecured OAUTHBEARER validator (the stack's) accepts. */
function unsecuredJwt(sub: string): string {
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none' })}.${b64({ sub, iat: now, exp: now + 3600 })}.`;
}

describe(`Kafka over SASL_SSL (the local stack's secure listener, driver ${driver})`, () => {
  const topics: string[] = [];
  let admin: KafkaAdmin;
  const topic = (name: string): string => {
    const t = `t.${run}.${name}`;
    topics.push(t);
    return t;
  };

  beforeAll(async () => {
    if (!(await isPortOpen(secure.listen))) {
      throw new Error(
        `no SASL_SSL listener on ${formatHostPort(secure.listen)}: the running Kafka was started by an older stack; restart it (npm run stack:down && npm run stack:up)`,
      );
    }
    admin = await createAdmin(clientFor('admin'));
  });
  afterAll(async () => {
    if (topics.length > 0) await admin?.deleteTopics(topics).catch(() => undefined);
    await admin?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it.each(['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'])('produces and consumes over SASL_SSL with %s', async (mechanism) => {
    const client = clientFor(mechanism, { BITPREDICT_KAFKA_SASL_MECHANISM: mechanism });
    const name = topic(`roundtrip-${mechanism.toLowerCase()}`);
    const a = await createAdmin(client);
    await a.ensureTopics([{ name, partitions: 2, replicationFactor: 1 }]);
    await a.close();
    const producer = await createProducer(client);
    await producer.send([0, 1, 2, 3].map((i) => ({ topic: name, key: `k${i}`, value: Buffer.from(`${mechanism}-${i}`) })));
    await producer.close();
    const got = await readAll(client, name, 4);
    expect(got.map((r) => r.value?.toString()).sort()).toEqual([0, 1, 2, 3].map((i) => `${mechanism}-${i}`));
  });

  it('authenticates with OAUTHBEARER, reading the token file at each login', async () => {
    const tokenFile = join(scratch, 'token');
    writeFileSync(tokenFile, `${unsecuredJwt(secure.user)}\n`);
    const client = clientFor('oauth', {
      BITPREDICT_KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
      BITPREDICT_KAFKA_SASL_USERNAME: '',
      BITPREDICT_KAFKA_SASL_PASSWORD_FILE: '',
      BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE: tokenFile,
    });
    const a = await createAdmin(client);
    expect(await a.listTopics()).toEqual(expect.any(Array));
    await a.close();
  });

  it('commits a transaction (records and consumer offsets together) over SASL_SSL', async () => {
    const client = clientFor('tx');
    const name = topic('tx');
    await admin.ensureTopics([{ name, partitions: 1, replicationFactor: 1 }]);
    const group = `${run}-tx-group`;
    const tx = await createTransactionalProducer(client, `${run}-tx`);
    await tx.sendWithOffsets(
      [
        { topic: name, key: 'a', value: Buffer.from('one') },
        { topic: name, key: 'a', value: Buffer.from('two') },
      ],
      [{ consumerGroupId: group, topic: name, partition: 0, offset: '7' }],
    );
    await tx.close();
    const got = await readAll(client, name, 2);
    expect(got.map((r) => r.value?.toString())).toEqual(['one', 'two']);
    const lag = await admin.groupLag(group, name);
    expect(lag.find((p) => p.partition === 0)?.committed).toBe('7');
  });

  it('a wrong password is ERR_KAFKA_AUTH naming the settings, not retryable, within seconds', async () => {
    const wrong = join(scratch, 'wrong-password');
    writeFileSync(wrong, 'not-the-password-5150\n');
    const client = clientFor('wrong-password', { BITPREDICT_KAFKA_SASL_PASSWORD_FILE: wrong });
    const err = await failure(() => createProducer(client));
    process.stderr.write(`kafka-secure (${driver}): wrong password -> ${err.code} after ${err.ms} ms: ${err.message}\n`);
    expect(err.code).toBe('ERR_KAFKA_AUTH');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('BITPREDICT_KAFKA_SASL_USERNAME=bitpredict');
    expect(err.message).toContain(`BITPREDICT_KAFKA_SASL_PASSWORD_FILE=${wrong}`);
    expect(err.message).toContain('SCRAM-SHA-512');
    expect(err.message).not.toContain('not-the-password-5150');
    expect(err.ms).toBeLessThan(5000);
  });

  it('a broker certificate from an unknown CA is ERR_KAFKA_TLS naming BITPREDICT_KAFKA_SSL_CA_FILE, within seconds', async () => {
    const otherCa = join(scratch, 'other-ca.pem');
    const keytool = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'keytool') : 'keytool';
    makeCertificateAuthority(keytool, { store: join(scratch, 'other-ca.p12'), pem: otherCa, password: 'other-ca-pass', name: 'Some other CA' });
    const client = clientFor('unknown-ca', { BITPREDICT_KAFKA_SSL_CA_FILE: otherCa });
    const err = await failure(() => createProducer(client));
    process.stderr.write(`kafka-secure (${driver}): unknown CA -> ${err.code} after ${err.ms} ms: ${err.message}\n`);
    expect(err.code).toBe('ERR_KAFKA_TLS');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`BITPREDICT_KAFKA_SSL_CA_FILE=${otherCa}`);
    // kafkajs retries a failed handshake like any connection error (connectRetries, with backoff;
    // about 4 s here); @platformatic/kafka retries it without waiting (under 0.1 s).
    expect(err.ms).toBeLessThan(10_000);
  });
});
