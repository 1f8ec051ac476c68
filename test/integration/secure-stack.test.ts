// One end-to-end pass through the secured local stack (`stack up --secure`): real hourly candles
// replayed over SASL_SSL Kafka (SCRAM, ACLs on), the schema registry behind basic auth and TLS, and
// Redis with an ACL user over TLS, ending in features in Redis and predictions on the topic; then
// the refusals a deployment meets, each a clear error naming the setting to fix, within seconds:
// a wrong password and an unknown CA for the registry and Redis (Kafka's are in
// kafka-secure.test.ts), a missing Kafka ACL on both drivers, a Redis user without the command.
// Every setting comes from the stack's client.env, as a user would source it. Under CI (CI=true)
// a stack without secure mode fails these tests; elsewhere they are skipped with the reason.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../cli/stack/config.js';
import { formatHostPort, resolveLayout } from '../../cli/stack/layout.js';
import { isPortOpen } from '../../cli/stack/probe.js';
import { makeCertificateAuthority } from '../../cli/stack/secure.js';
import { DRIVER_NAMES } from '../../core/kafka/driver.js';
import { loadConfig, type ConfigKey } from '../../core/config.js';
import { registryConnectionFromConfig } from '../../core/connection-security.js';
import { isBitPredictError } from '../../core/errors.js';
import { createAdmin, createKafkaClient, type KafkaClient } from '../../core/kafka/client.js';
import { readTopicFromStart } from '../../core/kafka/follow.js';
import { createProducer, createTransactionalProducer } from '../../core/kafka/producer.js';
import { kafkaSecurityFromConfig } from '../../core/kafka/security.js';
import { createLogger } from '../../core/logger.js';
import { createRedis, redisError, redisKeys } from '../../core/redis.js';
import { createSerde } from '../../core/serde/serde.js';
import { runReplay } from '../../producers/replay/service.js';
import { createFeatureProcessor } from '../../processors/features/service.js';
import { createPredictor } from '../../processors/predictor/service.js';
import type { Service } from '../../core/service.js';
import { BitPredictError } from '../../core/errors.js';
import { createTestPlatform, HOURLY_MERGED, REPO_ROOT, uniqueId, waitFor, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';

const layout = resolveLayout(loadStackConfig(process.env), REPO_ROOT);
const secure = layout.kafka.secure;
const mode = layout.secureMode;
const logger = createLogger({ level: 'silent', name: 'secure-stack-test' });

/** The secure servers answer: Kafka's SASL_SSL listener, the registry proxy, the TLS Redis. */
async function secureStackUp(): Promise<string | null> {
  for (const [what, hp] of [
    ['the Kafka SASL_SSL listener', secure.listen],
    ['the registry proxy (basic auth + TLS)', mode.registryProxy.listen],
    ['the TLS Redis', mode.redis.listen],
  ] as const) {
    if (!(await isPortOpen(hp))) return `${what} does not answer on ${formatHostPort(hp)}: run npm run stack:up -- --secure`;
  }
  return null;
}

const missing = await secureStackUp();
if (missing !== null && process.env.CI === 'true') throw new Error(`CI needs the secured stack: ${missing}`);
if (missing !== null) process.stderr.write(`secure-stack: skipped: ${missing}\n`);

/** client.env as a user sources it: every BITPREDICT_* line. */
function clientEnv(): Partial<Record<ConfigKey, string>> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(secure.clientEnv, 'utf8').split('\n')) {
    const m = /^(BITPREDICT_[A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
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

const report = (what: string, e: { code: string; ms: number; message: string }): void => {
  process.stderr.write(`secure-stack: ${what} -> ${e.code} after ${e.ms} ms: ${e.message}\n`);
};

describe.skipIf(missing !== null)('the secured stack end to end (SASL_SSL Kafka with ACLs, registry with basic auth + TLS, Redis ACL user + TLS)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'bp-secure-stack-'));
  const otherCa = join(scratch, 'other-ca.pem');
  const wrongPassword = join(scratch, 'wrong-password');
  let env: Partial<Record<ConfigKey, string>>;

  beforeAll(() => {
    env = clientEnv();
    writeFileSync(wrongPassword, 'not-the-password-8086\n');
    const keytool = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'keytool') : 'keytool';
    makeCertificateAuthority(keytool, { store: join(scratch, 'other-ca.p12'), pem: otherCa, password: 'other-ca-pass', name: 'Some other CA' });
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  describe.skipIf(!hasSharedData(HOURLY_MERGED))('replay -> features -> predictor through the secured servers', () => {
    const N = 48;
    let tp: TestPlatform;
    const services: Service[] = [];
    const fatal: unknown[] = [];

    beforeAll(async () => {
      // Topics, schemas and Redis through client.env's settings: SCRAM-SHA-512 over TLS, the proxy, rediss://.
      tp = await createTestPlatform('secure-e2e', env);
      const onFatal = (e: unknown): void => {
        fatal.push(e);
      };
      for (const make of [
        () => createFeatureProcessor({ platform: tp.platform, config: tp.config, redis: tp.redis, groupId: 'secure-features', onFatal }),
        () => createPredictor({ platform: tp.platform, config: tp.config, redis: tp.redis, groupId: 'secure-predictor', onFatal, followModels: false }),
      ]) {
        const s = await make();
        await s.start();
        services.push(s);
        await waitFor(() => s.readiness().ready, 'a processor to be ready');
      }
    });
    afterAll(async () => {
      for (const s of services.reverse()) await s.stop();
      await tp?.cleanup();
    });

    it('every real candle becomes a feature in Redis and predictions on the topic', async () => {
      expect(tp.config.kafka.security.protocol).toBe('SASL_SSL');
      expect(tp.config.registry.url).toMatch(/^https:/);
      expect(tp.config.redis.url).toMatch(/^rediss:/);
      const producer = await createProducer(tp.platform.kafka);
      const summary = await runReplay({
        platform: tp.platform,
        config: tp.config,
        producer,
        file: HOURLY_MERGED,
        symbol: 'BTCUSDT',
        interval: '1h',
        rate: 0,
        from: Date.UTC(2023, 0, 1),
        limit: N,
      });
      await producer.close();
      expect(summary).toMatchObject({ published: N, deadLettered: 0 });
      const candles = await tp.readAll('candles');
      const lastTime = candles.at(-1)?.value?.closeTime;
      await waitFor(async () => (await tp.readAll('predictions')).some((p) => p.value?.eventTime === lastTime), "the last candle's predictions", 60_000);
      const features = await tp.readAll('features');
      const predictions = await tp.readAll('predictions');
      expect(features.map((f) => f.value?.eventTime)).toEqual(candles.map((c) => c.value?.closeTime));
      // From the second candle on, every candle is forecast (the first has no return yet).
      expect([...new Set(predictions.map((p) => p.value?.eventTime))]).toEqual(candles.slice(1).map((c) => c.value?.closeTime));
      const keys = redisKeys(tp.config.redis.keyPrefix);
      const latest = JSON.parse((await tp.redis.get(keys.featuresLatest('BTCUSDT', '1h'))) ?? 'null') as { eventTime: number } | null;
      expect(latest?.eventTime).toBe(lastTime);
      expect(JSON.parse((await tp.redis.get(keys.predictionsLatest('BTCUSDT'))) ?? 'null')).toMatchObject({ eventTime: lastTime, symbol: 'BTCUSDT' });
      expect(fatal).toEqual([]);
    });
  });

  describe('refusals, each naming the setting to fix', () => {
    const registryWith = (extra: Partial<Record<ConfigKey, string>>) =>
      createSerde({ connection: registryConnectionFromConfig(loadConfig({}, { ...env, ...extra }).registry), topicPrefix: `t.${uniqueId('sec')}.`, logger });

    it('registry: a wrong password is ERR_REGISTRY_AUTH naming BITPREDICT_REGISTRY_PASSWORD_FILE, the password never shown', async () => {
      const e = await failure(() => registryWith({ BITPREDICT_REGISTRY_PASSWORD_FILE: wrongPassword }).registerAll());
      report('registry wrong password', e);
      expect(e).toMatchObject({ code: 'ERR_REGISTRY_AUTH', retryable: false });
      expect(e.message).toContain(`BITPREDICT_REGISTRY_USERNAME=${mode.registryProxy.user}, BITPREDICT_REGISTRY_PASSWORD_FILE=${wrongPassword}`);
      expect(e.message).not.toContain('not-the-password-8086');
      expect(e.ms).toBeLessThan(5000);
      // And no credentials at all: the proxy refuses too.
      const none = await failure(() => registryWith({ BITPREDICT_REGISTRY_USERNAME: '', BITPREDICT_REGISTRY_PASSWORD_FILE: '' }).registerAll());
      expect(none.code).toBe('ERR_REGISTRY_AUTH');
    });

    it('registry: a certificate from an unknown CA is ERR_REGISTRY_TLS naming BITPREDICT_REGISTRY_SSL_CA_FILE', async () => {
      const e = await failure(() => registryWith({ BITPREDICT_REGISTRY_SSL_CA_FILE: otherCa }).registerAll());
      report('registry unknown CA', e);
      expect(e).toMatchObject({ code: 'ERR_REGISTRY_TLS', retryable: false });
      expect(e.message).toContain(`BITPREDICT_REGISTRY_SSL_CA_FILE=${otherCa}`);
      expect(e.ms).toBeLessThan(5000);
    });

    it('Redis: a wrong password is ERR_REDIS_AUTH, an unknown CA ERR_REDIS_TLS, a missing command permission names the ACL', async () => {
      const redisWith = (extra: Partial<Record<ConfigKey, string>>) => createRedis({ config: loadConfig({}, { ...env, ...extra }).redis, logger });
      const wrong = await failure(() => redisWith({ BITPREDICT_REDIS_PASSWORD_FILE: wrongPassword }));
      report('redis wrong password', wrong);
      expect(wrong).toMatchObject({ code: 'ERR_REDIS_AUTH', retryable: false });
      expect(wrong.message).toContain(`BITPREDICT_REDIS_USERNAME=${mode.redis.user}, BITPREDICT_REDIS_PASSWORD_FILE=${wrongPassword}`);
      expect(wrong.message).not.toContain('not-the-password-8086');
      expect(wrong.ms).toBeLessThan(5000);
      const ca = await failure(() => redisWith({ BITPREDICT_REDIS_SSL_CA_FILE: otherCa }));
      report('redis unknown CA', ca);
      expect(ca).toMatchObject({ code: 'ERR_REDIS_TLS', retryable: false });
      expect(ca.message).toContain(`BITPREDICT_REDIS_SSL_CA_FILE=${otherCa}`);
      expect(ca.ms).toBeLessThan(5000);
      // TLS off against the TLS port: no answer, never a hang.
      const plain = await failure(() => redisWith({ BITPREDICT_REDIS_URL: `redis://${formatHostPort(mode.redis.listen)}`, BITPREDICT_REDIS_SSL_CA_FILE: '' }));
      expect(plain.code).toBe('ERR_REDIS_UNREACHABLE');
      // The read-only ACL user logs in, and a write is refused by its ACL.
      const readOnly = await redisWith({ BITPREDICT_REDIS_USERNAME: mode.redis.readOnlyUser, BITPREDICT_REDIS_PASSWORD_FILE: mode.redis.readOnlyPasswordFile });
      try {
        const refused = await readOnly.set(`bp:test:${uniqueId('ro')}`, '1').then(
          () => null,
          (err: unknown) =>
            redisError(err, { shownUrl: 'x', origin: { auth: 'BITPREDICT_REDIS_USERNAME', tls: '' } }, () => new BitPredictError('ERR_REDIS', String(err))),
        );
        expect(refused).toMatchObject({ code: 'ERR_REDIS_AUTH' });
        expect(refused?.message).toMatch(/NOPERM.*'set'.*ACL/);
      } finally {
        readOnly.disconnect();
      }
    });

    it('Kafka: a service whose user has no ACL fails at start with ERR_KAFKA_ACL naming the topics and the principal', async () => {
      const e = await failure(() => createTestPlatform('secure-noacl', { ...env, BITPREDICT_KAFKA_SASL_USERNAME: secure.noAclUser }));
      report('kafka service without ACLs', e);
      expect(e).toMatchObject({ code: 'ERR_KAFKA_ACL', retryable: false });
      expect(e.message).toContain(`User:${secure.noAclUser} (BITPREDICT_KAFKA_SASL_USERNAME)`);
      expect(e.message).toMatch(/\[topics t\.secure-noacl-[^\]]*market\.candles/);
      expect(e.ms).toBeLessThan(10_000);
    });

    it.each(DRIVER_NAMES)('Kafka (%s): producing, consuming and transactions without ACLs are ERR_KAFKA_ACL naming the resource', async (driver) => {
      const clientAs = (user: string): KafkaClient => {
        const c = loadConfig({}, { ...env, BITPREDICT_KAFKA_CLIENT: driver, BITPREDICT_KAFKA_SASL_USERNAME: user });
        return createKafkaClient(
          { brokers: c.kafka.brokers, clientId: `secure-acl-${driver}`, driver, security: kafkaSecurityFromConfig(c.kafka.security), connectRetries: 2 },
          logger,
        );
      };
      const topic = `t.${uniqueId('acl')}`;
      const admin = await createAdmin(clientAs(secure.user));
      try {
        await admin.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1 }]);
        const bad = clientAs(secure.noAclUser);
        const produce = await failure(() => createProducer(bad));
        report(`kafka ${driver} produce without ACL`, produce);
        expect(produce).toMatchObject({ code: 'ERR_KAFKA_ACL', retryable: false });
        expect(produce.message).toContain(`User:${secure.noAclUser}`);
        expect(produce.ms).toBeLessThan(10_000);
        const group = `${topic}-group`;
        const consume = await failure(async () => {
          const reader = await readTopicFromStart({ client: bad, topic, groupId: group, onBatch: async () => {} });
          await reader.stop();
        });
        report(`kafka ${driver} consume without ACL`, consume);
        expect(consume.code).toBe('ERR_KAFKA_ACL');
        expect(consume.message).toContain(`[group ${group}, topic ${topic}]`);
        expect(consume.ms).toBeLessThan(10_000);
        const tx = await failure(() => createTransactionalProducer(bad, `${topic}-tx`));
        expect(tx.code).toBe('ERR_KAFKA_ACL');
        expect(tx.message).toContain(`transactional id ${topic}-tx`);
      } finally {
        await admin.deleteTopics([topic]).catch(() => undefined);
        await admin.close();
      }
    });
  });
});
