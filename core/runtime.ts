// Wiring shared by every entrypoint: connects to Kafka and the registry, creates topics and
// registers schemas. Each service factory takes these dependencies (and its own slice of the
// configuration) instead of creating its own, so tests and the demo can run several services in
// one process. Redis is a dependency of its own, passed only to the services that use it.
import type { Tracer } from '@opentelemetry/api';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Registry } from './metrics.js';
import { createKafkaClient, createAdmin, type KafkaClient, type TopicSpec } from './kafka/client.js';
import { kafkaSecurityFromConfig } from './kafka/security.js';
import { topicSpecs } from './kafka/topics.js';
import { createSerde, type Serde } from './serde/serde.js';
import { registryConnectionFromConfig } from './connection-security.js';

export interface Platform {
  logger: Logger;
  registry: Registry;
  kafka: KafkaClient;
  serde: Serde;
  /** Present only while tracing is on (core/tracing.ts): services add their own spans with it. */
  tracer?: Tracer;
}

/**
 * Creates the topics BitPredict needs (idempotent) and registers every value schema (BACKWARD).
 * Safe to run from several processes at once.
 */
export async function prepareTopicsAndSchemas(
  p: Platform,
  topics: Pick<Config['kafka'], 'partitions' | 'replicationFactor' | 'retentionDays'>,
): Promise<{ created: string[] }> {
  const admin = await createAdmin(p.kafka);
  try {
    const created = await admin.ensureTopics(topicSpecsOf(p, topics));
    if (created.length > 0) p.logger.info({ created }, 'topics created');
    await p.serde.registerAll();
    return { created };
  } finally {
    await admin.close();
  }
}

/** The topics this platform's configuration asks for (prefix, partitions, replication, retention). */
export function topicSpecsOf(p: Platform, topics: Pick<Config['kafka'], 'partitions' | 'replicationFactor' | 'retentionDays'>): TopicSpec[] {
  return topicSpecs({
    prefix: p.kafka.topicPrefix,
    partitions: topics.partitions,
    replicationFactor: topics.replicationFactor,
    retentionDays: topics.retentionDays,
  });
}

export function createPlatform(deps: {
  config: Pick<Config, 'kafka' | 'registry' | 'instanceId'>;
  logger: Logger;
  registry: Registry;
  clientId: string;
  /** Tracing on: Kafka records carry their trace (core/kafka/tracing.ts); absent: no tracing work. */
  tracer?: Tracer;
}): Platform {
  const { kafka: k } = deps.config;
  const kafka = createKafkaClient(
    {
      brokers: k.brokers,
      clientId: `${k.clientId}-${deps.clientId}`,
      driver: k.driver,
      // TLS and SASL from BITPREDICT_KAFKA_SECURITY_PROTOCOL and its keys; reads the CA, key and
      // password files now, so a wrong path fails here, at start (ERR_CONFIG_INVALID).
      security: kafkaSecurityFromConfig(k.security),
      topicPrefix: k.topicPrefix,
      groupPrefix: k.clientId,
      instanceId: deps.config.instanceId,
      ...(deps.tracer ? { tracer: deps.tracer } : {}),
    },
    deps.logger,
  );
  // Basic auth and TLS from BITPREDICT_REGISTRY_*; the files are read now (ERR_CONFIG_INVALID at start).
  const serde = createSerde({ connection: registryConnectionFromConfig(deps.config.registry), topicPrefix: k.topicPrefix, logger: deps.logger });
  return { logger: deps.logger, registry: deps.registry, kafka, serde, ...(deps.tracer ? { tracer: deps.tracer } : {}) };
}
