// A dependency outage must not cost records (issue 17): the predictor runs against a Redis server
// of its own, which is stopped for a few seconds mid-stream and started again (empty, as a restarted
// cache is). Nothing may reach the DLQ, every vector's predictions must be there exactly once, and
// readiness must go false during the outage and true after it. Same for the schema registry, behind
// a TCP proxy this test closes and reopens: the predictor cannot decode a vector whose writer
// schema it has not fetched yet while the registry is away.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestPlatform, uniqueId, waitFor, type TestPlatform } from '../helpers/platform.js';
import { freePort, throwawayRedis } from '../helpers/local-servers.js';
import { createProducer } from '../../core/kafka/producer.js';
import { createRedis } from '../../core/redis.js';
import { createPredictor } from '../../processors/predictor/service.js';
import { createPlatform } from '../../core/runtime.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { bareFeature } from '../helpers/features.js';
import type { Service } from '../../core/service.js';
import type { FeatureVector } from '../../schemas/types.js';
import { loadSchema } from '../../schemas/index.js';
import avro from 'avsc';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const feature = (i: number): FeatureVector =>
  bareFeature('1h', T0 + i * HOUR, { close: 42_000 * Math.exp(0.002 * Math.sin(i)), logReturn1: 0.002 * Math.cos(i) });

/** A TCP proxy in front of `target` that can drop every connection and refuse new ones, then accept again. */
async function tcpProxy(target: { host: string; port: number }): Promise<{ port: number; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const port = await freePort();
  const listen = async (): Promise<void> => {
    server = createServer((client) => {
      const upstream = connect(target.port, target.host);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
  };
  const down = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return { port, down, up: listen, close: down };
}

describe('runner: a dependency outage mid-stream loses nothing and dead-letters nothing', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it.each(['at-least-once', 'exactly-once'] as const)('%s: predictor, its Redis stopped for a few seconds and started again', async (guarantee) => {
    const port = await freePort();
    const redisServer = throwawayRedis(port);
    await redisServer.start();
    cleanups.push(() => redisServer.kill());
    const tp: TestPlatform = await createTestPlatform(`outage-${guarantee}`, { BITPREDICT_PROCESSING_GUARANTEE: guarantee });
    cleanups.push(() => tp.cleanup());
    // The predictor's Redis is the throwaway one; the platform's own (for cleanup) is the shared one.
    const redis = await createRedis({ config: { ...tp.config.redis, url: `redis://127.0.0.1:${port}` }, logger: tp.logger });
    cleanups.push(async () => void redis.disconnect());
    const fatal: unknown[] = [];
    const groupId = uniqueId('outage-predictor');
    const predictor: Service = await createPredictor({
      platform: tp.platform,
      config: { ...tp.config, consumer: { ...tp.config.consumer, dependencyBackoffMaxMs: 500 } },
      redis,
      groupId,
      followModels: false,
      now: () => T0 + 10_000 * HOUR,
      onFatal: (e) => fatal.push(e),
    });
    cleanups.push(() => predictor.stop());
    const producer = await createProducer(tp.platform.kafka);
    cleanups.push(() => producer.close());
    const send = (from: number, to: number) =>
      producer.send(
        Array.from({ length: to - from }, (_, k) => {
          const f = feature(from + k);
          return { topic: tp.topic('features'), key: 'BTCUSDT:1h', value: tp.platform.serde.encode('features', f), timestamp: f.eventTime };
        }),
      );
    const predictedTimes = async (): Promise<number[]> => (await tp.readAll('predictions')).map((p) => p.value!.eventTime);
    await predictor.start();
    await waitFor(() => predictor.readiness().ready, 'the predictor to be ready');

    await send(0, 20);
    await waitFor(async () => new Set(await predictedTimes()).size >= 20, 'predictions of the first vectors');

    // Redis goes away; more vectors arrive.
    await redisServer.kill();
    await send(20, 40);
    await waitFor(() => !predictor.readiness().ready, 'readiness to go false while Redis is down');
    expect(predictor.readiness().checks.dependency).toMatch(/ERR_REDIS_UNREACHABLE/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(predictor.readiness().ready).toBe(false);

    // Redis is back (empty); the held vector and the rest go through.
    await redisServer.start();
    await send(40, 50);
    await waitFor(async () => new Set(await predictedTimes()).size >= 50, 'predictions of every vector after the outage', 60_000);
    await waitFor(() => predictor.readiness().ready, 'readiness to come back');

    const preds = (await tp.readAll('predictions')).map((p) => p.value!);
    const ids = preds.map((p) => `${p.eventTime}|${p.modelName}|${p.horizonSteps}`);
    // Exactly once: no prediction twice, and every vector has the same forecasters.
    expect(new Set(ids).size).toBe(ids.length);
    const perTime = new Map<number, number>();
    for (const p of preds) perTime.set(p.eventTime, (perTime.get(p.eventTime) ?? 0) + 1);
    const expectedTimes = Array.from({ length: 50 }, (_, i) => feature(i).eventTime);
    expect([...perTime.keys()].sort((a, b) => a - b)).toEqual(expectedTimes);
    expect(new Set(perTime.values()).size).toBe(1);
    const dlq = (await tp.readAll('dlq')).filter((d) => d.value?.consumerGroup === groupId);
    expect(dlq).toEqual([]);
    expect(fatal).toEqual([]);
  });

  it('predictor, the schema registry unreachable (a proxy closed and reopened) before it has fetched the writer schema of its input', async () => {
    const tp: TestPlatform = await createTestPlatform('outage-registry');
    cleanups.push(() => tp.cleanup());
    const registryUrl = new URL(tp.config.registry.url);
    const proxy = await tcpProxy({ host: registryUrl.hostname, port: Number(registryUrl.port) });
    cleanups.push(() => proxy.close());
    const proxied = new URL(registryUrl.href);
    proxied.port = String(proxy.port);
    // The predictor's own platform: its serde talks to the registry through the proxy.
    const config = { ...tp.config, registry: { ...tp.config.registry, url: proxied.href.replace(/\/$/, '') } };
    const platform = createPlatform({
      config,
      logger: tp.logger,
      registry: createMetricsRegistry({ service: 'outage-registry', defaultMetrics: false }),
      clientId: 'outage-registry',
    });
    const fatal: unknown[] = [];
    const groupId = uniqueId('outage-registry');
    const predictor = await createPredictor({
      platform,
      config: { ...config, consumer: { ...config.consumer, dependencyBackoffMaxMs: 500 } },
      redis: tp.redis,
      groupId,
      followModels: false,
      now: () => T0 + 10_000 * HOUR,
      onFatal: (e) => fatal.push(e),
    });
    cleanups.push(() => predictor.stop());
    const producer = await createProducer(tp.platform.kafka);
    cleanups.push(() => producer.close());
    await platform.serde.registerAll();
    await predictor.start();
    await waitFor(() => predictor.readiness().ready, 'the predictor to be ready');

    // Another writer's version of the features schema (one more field), under a subject of its
    // own: its id is new to the predictor, which must fetch it from the registry to decode.
    const writer = {
      ...loadSchema('features'),
      fields: [...(loadSchema('features').fields as unknown[]), { name: 'outageTestExtra', type: 'null', default: null }],
    };
    const res = await fetch(`${registryUrl.href.replace(/\/$/, '')}/subjects/${encodeURIComponent(uniqueId('outage-writer'))}-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(writer) }),
    });
    const { id } = (await res.json()) as { id: number };
    const writerType = avro.Type.forSchema(writer as avro.Schema);
    const frame = (f: FeatureVector): Buffer => {
      const head = Buffer.alloc(5);
      head.writeInt32BE(id, 1);
      return Buffer.concat([head, writerType.toBuffer({ ...f, outageTestExtra: null })]);
    };

    // The registry goes away; vectors written with that schema arrive.
    await proxy.down();
    await producer.send(
      Array.from({ length: 6 }, (_, k) => {
        const f = feature(k);
        return { topic: tp.topic('features'), key: 'BTCUSDT:1h', value: frame(f), timestamp: f.eventTime };
      }),
    );
    await waitFor(() => !predictor.readiness().ready, 'readiness to go false while the registry is unreachable');
    expect(predictor.readiness().checks.dependency).toMatch(/ERR_REGISTRY_UNREACHABLE/);
    await new Promise((r) => setTimeout(r, 3000));
    await proxy.up();
    await waitFor(
      async () => new Set((await tp.readAll('predictions')).map((p) => p.value!.eventTime)).size >= 6,
      'predictions after the registry is back',
      60_000,
    );
    await waitFor(() => predictor.readiness().ready, 'readiness to come back');
    const dlq = (await tp.readAll('dlq')).filter((d) => d.value?.consumerGroup === groupId);
    expect(dlq).toEqual([]);
    expect(fatal).toEqual([]);
  });
});
