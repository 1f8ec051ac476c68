// Gateway service: the fastify + ws app (app.ts) fed by a Kafka consumer of `predictions`. Every
// gateway instance must see every prediction (its clients may subscribe to any symbol), so each
// instance consumes in its own consumer group, starting from the latest offset; snapshots for new
// subscribers come from Redis, which the predictor keeps current.
import type { FastifyInstance } from 'fastify';
import type { Redis } from '../core/redis.js';
import { redisKeys } from '../core/redis.js';
import type { Platform } from '../core/runtime.js';
import type { Readiness, Service } from '../core/service.js';
import type { BitPredictError} from '../core/errors.js';
import { errorMessage } from '../core/errors.js';
import { createConsumerRunner } from '../core/kafka/consumer.js';
import { createDeadLetterFactory } from '../core/kafka/dlq.js';
import { createProducer } from '../core/kafka/producer.js';
import { topicName } from '../schemas/index.js';
import type { Prediction } from '../schemas/types.js';
import { buildApp, type Hub } from './app.js';

export interface GatewayService extends Service {
  readonly app: FastifyInstance;
  readonly hub: Hub;
  /** Address after start(), e.g. http://127.0.0.1:8080 */
  url(): string;
}

export async function createGateway(opts: { platform: Platform; redis: Redis; host: string; port: number; onFatal(err: BitPredictError): void; heartbeatMs?: number }): Promise<GatewayService> {
  const { platform, redis } = opts;
  const { config, logger, serde } = platform;
  const keys = redisKeys(config.redis.keyPrefix);
  const log = logger.child({ service: 'gateway' });
  const producer = await createProducer(platform.kafka);
  let stopping = false;
  let redisOk = true;
  const runner = createConsumerRunner({
    client: platform.kafka,
    // One group per instance: every instance receives every prediction.
    groupId: `${config.kafka.clientId}-gateway-${config.instanceId}-${Date.now().toString(36)}`,
    topics: [topicName('predictions', config.kafka.topicPrefix)],
    fromBeginning: false,
    handler: async (rec) => {
      const p = await serde.decode('predictions', rec.value);
      hub.publish(p);
    },
    deadLetter: createDeadLetterFactory({ serde, topicPrefix: config.kafka.topicPrefix }),
    delivery: { kind: 'at-least-once', producer },
    logger: log,
    registry: platform.registry,
    maxAttempts: 1,
    retryBackoffMs: 0,
    flushEvery: 1000,
    onFatal: opts.onFatal,
  });
  // One readiness for the gateway's own /readyz and for whoever drives the service (worker health, demo).
  const readiness = (): Readiness => ({
    ready: !stopping && runner.joined && redisOk,
    checks: { kafka: runner.joined ? 'joined' : 'not joined', redis: redisOk ? 'ok' : 'failing', shutdown: stopping ? 'in progress' : 'no' },
  });
  const { app, hub } = await buildApp({
    logger: log,
    registry: platform.registry,
    maxBufferedBytes: config.gateway.maxBufferedBytes,
    ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
    latest: async (symbol: string): Promise<Prediction | null> => {
      try {
        const text = await redis.get(keys.predictionsLatest(symbol));
        redisOk = true;
        return text ? (JSON.parse(text) as Prediction) : null;
      } catch (err) {
        redisOk = false;
        log.warn({ err: errorMessage(err) }, 'snapshot read from Redis failed');
        return null;
      }
    },
    readiness,
  });
  let address = '';
  return {
    name: 'gateway',
    app,
    hub,
    url: () => address,
    async start() {
      address = await app.listen({ host: opts.host, port: opts.port });
      log.info({ url: address, ws: `${address.replace(/^http/, 'ws')}/ws` }, 'gateway listening');
      await runner.start();
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      // Not ready first, then stop intake from Kafka, then close clients and the server.
      await runner.stop();
      await app.close();
      await producer.close();
    },
    readiness,
  };
}
