// Wiring shared by every entrypoint: connects to Kafka, the registry and (optionally) Redis,
// creates topics and registers schemas, and ties every resource into the ordered shutdown. Each
// service factory takes these dependencies instead of creating its own, so tests and the demo can
// run several services in one process.
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Registry } from './metrics.js';
import { createKafkaClient, createAdmin, type KafkaClient } from './kafka/client.js';
import { topicSpecs } from './kafka/topics.js';
import { createSerde, type Serde } from './serde/serde.js';

export interface Platform {
  config: Config;
  logger: Logger;
  registry: Registry;
  kafka: KafkaClient;
  serde: Serde;
}

/**
 * Creates the topics BitPredict needs (idempotent) and registers every value schema (BACKWARD).
 * Safe to run from several processes at once.
 */
export async function prepareTopicsAndSchemas(p: { config: Config; logger: Logger; kafka: KafkaClient; serde: Serde }): Promise<{ created: string[] }> {
  const admin = await createAdmin(p.kafka);
  try {
    const created = await admin.ensureTopics(
      topicSpecs({ prefix: p.config.kafka.topicPrefix, partitions: p.config.kafka.partitions, replicationFactor: p.config.kafka.replicationFactor }),
    );
    if (created.length > 0) p.logger.info({ created }, 'topics created');
    await p.serde.registerAll();
    return { created };
  } finally {
    await admin.close();
  }
}

export function createPlatform(deps: { config: Config; logger: Logger; registry: Registry; clientId: string }): Platform {
  const kafka = createKafkaClient({ brokers: deps.config.kafka.brokers, clientId: `${deps.config.kafka.clientId}-${deps.clientId}` }, deps.logger);
  const serde = createSerde({ url: deps.config.registry.url, topicPrefix: deps.config.kafka.topicPrefix, logger: deps.logger });
  return { config: deps.config, logger: deps.logger, registry: deps.registry, kafka, serde };
}
