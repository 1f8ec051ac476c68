// Gateway service: the fastify + ws app (app.ts) fed by a Kafka consumer of `predictions`,
// `features`, `market.candles` and `scores`. Every gateway instance must see every record (its clients may
// subscribe to any channel), so each instance consumes in its own consumer group, starting from
// the latest offset; snapshots for new subscribers and the REST routes read Redis, which the
// predictor, the feature processor and the trainer's monitor keep current. Instances share nothing but Kafka and Redis,
// so any number of them run side by side behind a load balancer.
import { SpanKind } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { Redis } from '../core/redis.js';
import type { Platform } from '../core/runtime.js';
import type { Readiness, Service } from '../core/service.js';
import { isBitPredictError, type BitPredictError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { counter } from '../core/metrics.js';
import { createConsumerRunner } from '../core/kafka/consumer.js';
import type { DependencyWait } from '../core/kafka/runner/waits.js';
import { dependencyCheck } from '../core/processor.js';
import { createDeadLetterFactory } from '../core/kafka/dlq.js';
import { createProducer, type Producer } from '../core/kafka/producer.js';
import { buildApp, httpLimitsOf, type Hub } from './app.js';
import { CloseCodes, type ChannelKind, type Position } from './stream/hub.js';
import { createRedisSources, type RedisSources } from './rest/sources.js';
import { registerRestRoutes } from './rest/routes.js';
import { createModelsView } from './models-view.js';
import { createKeyStore, type KeyStore } from './auth/keys.js';
import { createAuthGuard, guardSettingsOf } from './auth/guard.js';
import { registerKeyRoutes } from './auth/routes.js';
import type { Config } from '../core/config.js';

export interface GatewayService extends Service {
  readonly app: FastifyInstance;
  readonly hub: Hub;
  /** Address after start(), e.g. http://127.0.0.1:8080 */
  url(): string;
}

/** The slice of the configuration the gateway reads. */
export type GatewayConfig = Pick<Config, 'gateway' | 'models' | 'redis'> & { market: Pick<Config['market'], 'symbols'> };

export interface GatewayOptions {
  platform: Platform;
  config: GatewayConfig;
  redis: Redis;
  /** Where to listen (default the configured host and port). */
  host?: string;
  port?: number;
  onFatal(err: BitPredictError): void;
  heartbeatMs?: number;
  /** How long stop() waits for clients to answer the 1001 close. */
  closeGraceMs?: number;
}

/** Redis health as the gateway sees it: every Redis read it makes for a client passes through watch(). */
export function createRedisWatch() {
  let ok = false;
  return {
    get ok() {
      return ok;
    },
    async watch<T>(op: () => Promise<T>): Promise<T> {
      try {
        const out = await op();
        ok = true;
        return out;
      } catch (err) {
        ok = false;
        throw err;
      }
    },
  };
}

export type RedisWatch = ReturnType<typeof createRedisWatch>;

/**
 * The Kafka side of the gateway: one consumer of predictions, features, market.candles and scores whose
 * records go to the hub. One group per instance and process start, from the latest offset: every
 * instance receives every record.
 */
function createFanOut(deps: {
  platform: Platform;
  producer: Producer;
  log: Logger;
  publish(kind: ChannelKind, value: { symbol: string }, pos: Position): void;
  onFatal(err: BitPredictError): void;
}) {
  const { platform, log } = deps;
  const kinds = new Map<string, { kind: ChannelKind; logical: 'predictions' | 'features' | 'candles' | 'scores' }>([
    [platform.kafka.topic('predictions'), { kind: 'predictions', logical: 'predictions' }],
    [platform.kafka.topic('features'), { kind: 'features', logical: 'features' }],
    [platform.kafka.topic('candles'), { kind: 'candles', logical: 'candles' }],
    [platform.kafka.topic('scores'), { kind: 'scores', logical: 'scores' }],
  ]);
  const skipped = counter(
    platform.registry,
    'bitpredict_gateway_records_skipped_total',
    'Kafka records the gateway could not decode and did not fan out, by topic (the producing service dead-letters bad output; every gateway instance reads every record, so the gateway counts instead of writing the DLQ once per instance)',
    ['topic'],
  );
  return createConsumerRunner({
    client: platform.kafka,
    groupId: platform.kafka.privateGroupId('gateway'),
    topics: [...kinds.keys()],
    fromBeginning: false,
    handler: async (rec) => {
      const k = kinds.get(rec.topic);
      if (!k) return [];
      let value: { symbol: string };
      try {
        value = await platform.serde.decode(k.logical, rec.value);
      } catch (err) {
        // A schema id the registry cannot resolve yet is worth a retry; anything else is bad data.
        if (isBitPredictError(err) && err.retryable) throw err;
        skipped.inc({ topic: k.logical });
        log.warn({ topic: rec.topic, partition: rec.partition, offset: rec.offset, err }, 'record not decodable; not fanned out');
        return [];
      }
      // The record's Kafka position names it the same on every gateway replica (resume across them).
      const pos = { partition: rec.partition, offset: Number(rec.offset) };
      const tracer = platform.tracer;
      if (!tracer) {
        deps.publish(k.kind, value, pos);
        return [];
      }
      // Tracing on: the push to the WebSocket subscribers is the last span of the record's trace,
      // a child of this record's process span (the active one here).
      const span = tracer.startSpan(`push ${k.kind}`, {
        kind: SpanKind.PRODUCER,
        attributes: { 'bitpredict.ws.channel_kind': k.kind, 'bitpredict.ws.symbol': String(value.symbol) },
      });
      try {
        deps.publish(k.kind, value, pos);
      } finally {
        span.end();
      }
      return [];
    },
    deadLetter: createDeadLetterFactory({ serde: platform.serde, topicPrefix: platform.kafka.topicPrefix }),
    delivery: { kind: 'at-least-once', producer: deps.producer },
    logger: log,
    registry: platform.registry,
    maxAttempts: 3,
    retryBackoffMs: 200,
    flushEvery: 1000,
    onFatal: deps.onFatal,
  });
}

/**
 * One readiness for the gateway's own /readyz and for whoever drives the service (worker health, demo).
 * Ready means able to serve: the consumer joined and Redis answers. The predictor publishes the
 * baselines' forecasts whether or not a model was ever trained, so a missing champion is a
 * warning, not a 503: a fresh cluster serves from its first minute and its PodDisruptionBudget
 * does not block node drains. BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION=false keeps the old wait.
 */
export function gatewayReadiness(
  gw: Pick<GatewayConfig['gateway'], 'readyWithoutChampion'>,
  s: {
    stopping(): boolean;
    joined(): boolean;
    /** The fan-out consumer's wait for a dependency (the registry, to decode), if any. */
    dependencyWait?(): DependencyWait | null;
    redis: Pick<RedisWatch, 'ok'>;
    models: { hasChampion(): boolean; snapshot(): { champion: { version: string } | null } };
  },
): () => Readiness {
  return () => {
    const champion = s.models.hasChampion();
    const modelOk = champion || gw.readyWithoutChampion;
    const stopping = s.stopping();
    const joined = s.joined();
    const wait = s.dependencyWait?.() ?? null;
    const warnings: string[] = [];
    if (!champion && gw.readyWithoutChampion) warnings.push('no champion model on the models topic yet: serving baseline predictions only');
    return {
      ready: !stopping && joined && s.redis.ok && modelOk && wait === null,
      checks: {
        kafka: joined ? 'joined' : 'not joined',
        ...dependencyCheck(wait),
        redis: s.redis.ok ? 'ok' : 'failing',
        model: champion
          ? `champion ${s.models.snapshot().champion?.version ?? ''}`.trim()
          : gw.readyWithoutChampion
            ? 'baselines only (no champion yet)'
            : 'no champion on the models topic yet (BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION=false waits for one)',
        shutdown: stopping ? 'in progress' : 'no',
      },
      warnings,
    };
  };
}

/**
 * The snapshot a new subscriber gets: the latest values of its channel, from Redis. For
 * predictions, the board (every forecaster's latest: the model beside every baseline) when the
 * predictor writes one, else the headline prediction (a predictor from before the board).
 */
export function snapshotFrom(
  sources: Pick<RedisSources, 'latestPrediction' | 'predictionBoard' | 'latestFeatures' | 'latestCandles' | 'latestScores'>,
  redis: RedisWatch,
) {
  return (kind: ChannelKind, symbol: string): Promise<unknown[]> =>
    redis.watch(async (): Promise<unknown[]> => {
      switch (kind) {
        case 'predictions': {
          const board = await sources.predictionBoard(symbol);
          if (board.length > 0) return board;
          const p = await sources.latestPrediction(symbol);
          return p ? [p] : [];
        }
        case 'scores':
          return sources.latestScores(symbol);
        case 'features':
          return sources.latestFeatures(symbol, null);
        case 'candles':
          return sources.latestCandles(symbol);
      }
    });
}

/** Closes the open WebSockets whose API key was revoked since they connected. */
function createKeyRecheck(deps: { hub: Hub; keyStore: KeyStore; log: Logger }) {
  const { hub, keyStore, log } = deps;
  return async (): Promise<void> => {
    const ids = hub.keyIds();
    if (ids.length === 0) return;
    let status: Map<string, string>;
    try {
      status = await keyStore.status(ids);
    } catch (err) {
      // Redis down: keep the connections (they were valid), check again next time.
      log.warn({ err }, 'API key re-check failed; open connections kept');
      return;
    }
    const gone = ids.filter((id) => status.get(id) !== 'active');
    if (gone.length > 0) {
      const n = hub.closeKeys(gone, CloseCodes.UNAUTHENTICATED, 'API key revoked');
      log.info({ keys: gone, connections: n }, 'closed WebSockets of revoked API keys');
    }
  };
}

export async function createGateway(opts: GatewayOptions): Promise<GatewayService> {
  const { platform, config, redis } = opts;
  const gw = config.gateway;
  const log = platform.logger.child({ component: 'gateway' });
  const producer = await createProducer(platform.kafka);
  const sources = createRedisSources(redis, config.redis.keyPrefix, (value) => platform.serde.decode('features', value));
  const keyStore = createKeyStore(redis, config.redis.keyPrefix);
  const guard = createAuthGuard({ ...guardSettingsOf(gw), store: keyStore, logger: log });
  const models = createModelsView({ platform, logger: log, storeDir: config.models.storeDir, name: config.models.name });
  if (gw.auth === 'open')
    log.warn(
      'BITPREDICT_GATEWAY_AUTH=open: anyone on this host reads the API and the WebSocket without a key; key management still needs an admin key (local demos only, loopback binds only)',
    );

  let stopping = false;
  const redisWatch = createRedisWatch();
  // The hub exists once the app is built; records only arrive after start(), by then it does.
  let hubRef: Hub | null = null;
  const runner = createFanOut({ platform, producer, log, onFatal: opts.onFatal, publish: (kind, value, pos) => hubRef?.publish(kind, value, pos) });
  const readiness = gatewayReadiness(gw, {
    stopping: () => stopping,
    joined: () => runner.joined,
    dependencyWait: () => runner.dependencyWait(),
    redis: redisWatch,
    models,
  });

  const { app, hub } = await buildApp({
    logger: log,
    registry: platform.registry,
    maxBufferedBytes: gw.maxBufferedBytes,
    heartbeatMs: opts.heartbeatMs ?? gw.heartbeatMs,
    idleTimeoutMs: gw.idleTimeoutMs,
    maxSubscriptions: gw.maxSubscriptions,
    replayBuffer: gw.replayBuffer,
    clientRate: gw.clientRate,
    limits: httpLimitsOf(gw),
    // Subscribes are limited to the configured symbols and those read from Kafka (docs/websocket.md).
    channels: { maxChannels: gw.maxChannels, channelIdleMs: gw.channelIdleMs, symbols: config.market.symbols },
    ...(opts.closeGraceMs === undefined ? {} : { closeGraceMs: opts.closeGraceMs }),
    auth: guard,
    snapshot: snapshotFrom(sources, redisWatch),
    routes: async (a) => {
      await registerRestRoutes(a, { sources: { ...sources, latestPrediction: (s) => redisWatch.watch(() => sources.latestPrediction(s)) }, models });
      await a.register(registerKeyRoutes, { store: keyStore });
    },
    readiness,
  });
  hubRef = hub;

  // Redis health for readiness, and open WebSockets whose key was revoked.
  const timers: NodeJS.Timeout[] = [];
  const probeRedis = (): void => {
    redisWatch.watch(() => redis.ping()).catch((err: unknown) => log.warn({ err }, 'Redis ping failed; not ready'));
  };
  const recheckKeys = createKeyRecheck({ hub, keyStore, log });

  let address = '';
  return {
    name: 'gateway',
    app,
    hub,
    url: () => address,
    async start() {
      probeRedis();
      await models.start();
      address = await app.listen({ host: opts.host ?? gw.host, port: opts.port ?? gw.port });
      log.info({ url: address, ws: `${address.replace(/^http/, 'ws')}/ws`, auth: gw.auth, epoch: hub.epoch }, 'gateway listening');
      await runner.start();
      timers.push(setInterval(probeRedis, 5000));
      if (gw.auth === 'keys') timers.push(setInterval(() => void recheckKeys(), gw.keyRecheckMs));
      for (const t of timers) t.unref();
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      for (const t of timers) clearInterval(t);
      // Not ready first, then stop intake from Kafka, then close clients (1001) and the server.
      await runner.stop();
      await app.close();
      await models.stop();
      await producer.close();
    },
    readiness,
  };
}
