// The local stack's own configuration (BITPREDICT_STACK_*): only `bitpredict stack`, the demo and
// the test setup start servers, so only they read these keys. Declared like the services' schema
// (core/env-config.ts); the addresses the stack listens on come from the services' own kafka,
// registry and redis sections, so that what the stack starts is what the services dial.
import { Type, type Static } from '@sinclair/typebox';
import { CONFIG_KEYS, loadConfig, type Config, type ConfigKey } from '../../core/config.js';
import { env, envKeyTable, loadEnv, type EnvKeysOf, type EnvOverrides } from '../../core/env-config.js';

export const StackConfigSchema = Type.Object({
  dir: env.string('BITPREDICT_STACK_DIR', '.stack', 'run folder of the local stack: downloaded jars, data, logs, pids'),
  kafkaVersion: env.string('BITPREDICT_STACK_KAFKA_VERSION', '4.1.1', 'Apache Kafka version fetched from Maven Central'),
  apicurioVersion: env.string('BITPREDICT_STACK_APICURIO_VERSION', '3.3.3', 'Apicurio Registry version fetched from Maven Central'),
  kafkaControllerPort: env.int(
    'BITPREDICT_STACK_KAFKA_CONTROLLER_PORT',
    9093,
    'KRaft controller port of the local Kafka (broker i of stack up --brokers N: this + 100 * (i - 1))',
    { min: 1, max: 65535 },
  ),
  kafkaSecurePort: env.int(
    'BITPREDICT_STACK_KAFKA_SECURE_PORT',
    9094,
    'SASL_SSL port of the local Kafka (SCRAM-SHA-256/512, PLAIN and unsecured OAUTHBEARER logins, a CA made at first start); client settings in <stack dir>/secure/client.env',
    { min: 1, max: 65535 },
  ),
  registrySecurePort: env.int(
    'BITPREDICT_STACK_REGISTRY_SECURE_PORT',
    8444,
    "stack up --secure: HTTPS port of the registry behind basic auth (a proxy the stack runs, its certificate signed by the stack's CA)",
    { min: 1, max: 65535 },
  ),
  redisSecurePort: env.int(
    'BITPREDICT_STACK_REDIS_SECURE_PORT',
    6380,
    'stack up --secure: TLS port of a second redis-server with ACL users (the default user off)',
    { min: 1, max: 65535 },
  ),
  kafkaHeap: env.string('BITPREDICT_STACK_KAFKA_HEAP', '512m', 'JVM heap of the local Kafka (of each broker with stack up --brokers N)'),
  registryManagementPort: env.int('BITPREDICT_STACK_REGISTRY_MANAGEMENT_PORT', 8091, 'Apicurio management (health) port', { min: 1, max: 65535 }),
  registryHeap: env.string('BITPREDICT_STACK_REGISTRY_HEAP', '512m', 'JVM heap of the local Apicurio Registry'),
  javaHome: env.string(
    'BITPREDICT_STACK_JAVA_HOME',
    '',
    'JDK folder to try first for the local stack (empty: JAVA_HOME, then java on PATH, then /usr/lib/jvm/*)',
  ),
  startTimeoutMs: env.int('BITPREDICT_STACK_START_TIMEOUT_MS', 180000, 'how long stack up waits for each server to become ready', { min: 1000 }),
});

export type StackConfigKey = EnvKeysOf<typeof StackConfigSchema>;

export const STACK_CONFIG_KEYS = envKeyTable(StackConfigSchema);

export type StackSettings = Omit<Static<typeof StackConfigSchema>, 'javaHome'> & {
  /** BITPREDICT_STACK_JAVA_HOME, else JAVA_HOME (the JVM's own convention), else undefined. */
  javaHome: string | undefined;
};

/** What the stack needs: its own settings and the addresses the services will dial. */
export type StackConfig = Pick<Config, 'kafka' | 'registry' | 'redis'> & { stack: StackSettings };

/**
 * Reads the stack's keys and the services' kafka, registry and redis sections from one
 * environment (overrides win); each schema's validation runs, and neither refuses the other's keys.
 */
export function loadStackConfig(envVars: Record<string, string | undefined>, overrides: EnvOverrides<ConfigKey | StackConfigKey> = {}): StackConfig {
  const serviceOverrides: Record<string, string | undefined> = {};
  const stackOverrides: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(overrides)) (key in STACK_CONFIG_KEYS ? stackOverrides : serviceOverrides)[key] = value;
  const config = loadConfig(envVars, serviceOverrides);
  const stack = loadEnv(StackConfigSchema, envVars, stackOverrides, { alsoKnown: Object.keys(CONFIG_KEYS) });
  return {
    kafka: config.kafka,
    registry: config.registry,
    redis: config.redis,
    // JAVA_HOME is the JVM's own convention (like PATH), read here so config stays in one place.
    stack: { ...stack, javaHome: stack.javaHome || envVars.JAVA_HOME || undefined },
  };
}
