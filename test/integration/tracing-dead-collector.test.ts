// Tracing pointed at a collector that is not there, or is broken, while candles flow through the
// feature processor on the local stack (real Kafka, registry and Redis): every record is still
// processed and its vector produced, the failed exports are counted by reason in
// bitpredict_tracing_spans_dropped_total with one warning (not one per span), the export queue
// holds no more than OTEL_BSP_MAX_QUEUE_SIZE spans (the rest are dropped as queue_full, not kept),
// and a real `bitpredict features` process stops on SIGTERM within its shutdown timeout while an
// export to a collector that never answers is in flight. Collectors: a closed port (connection
// refused), an HTTP server answering 500, and one that reads the request and never answers.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import { createPlatform } from '../../core/runtime.js';
import { createProducer } from '../../core/kafka/producer.js';
import { startTracing } from '../../core/tracing.js';
import { VERSION } from '../../core/version.js';
import { createFeatureProcessor } from '../../processors/features/service.js';
import { candle, HOUR_MS } from '../helpers/candles.js';
import { createTestPlatform, REPO_ROOT, waitFor, type TestPlatform } from '../helpers/platform.js';

type Collector = { url: string; requests: () => number; close(): Promise<void> };

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<Collector> {
  const server = createServer();
  const url = await listen(server);
  await new Promise<void>((r) => server.close(() => r()));
  return { url, requests: () => 0, close: async () => undefined };
}

/** answer 500: replies to every export with a server error; hang: reads the body and never replies. */
async function brokenCollector(kind: 'answer 500' | 'hang'): Promise<Collector> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      if (kind === 'answer 500') res.writeHead(500, { 'content-type': 'text/plain' }).end('collector broken');
    });
  });
  const url = await listen(server);
  return {
    url,
    requests: () => n,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function metricValues(registry: Registry, name: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const metric = registry.getSingleMetric(name);
  if (!metric) return out;
  for (const v of (await metric.get()).values) out.set(String(v.labels.reason ?? ''), v.value);
  return out;
}

const N = 300;
const MAX_QUEUE = 64;
const T0 = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * N * HOUR_MS;

describe('tracing to a dead or broken collector: the pipeline carries on', () => {
  const collectors: Collector[] = [];
  const platforms: TestPlatform[] = [];
  afterAll(async () => {
    for (const c of collectors) await c.close();
    for (const tp of platforms) await tp.cleanup();
  });

  for (const kind of ['closed port', 'answer 500', 'hang'] as const) {
    it(`${kind}: every record processed and produced, spans dropped and counted, one warning, the queue bounded`, async () => {
      const collector = kind === 'closed port' ? await closedPort() : await brokenCollector(kind);
      collectors.push(collector);
      const tp = await createTestPlatform(`trdead-${kind.replace(' ', '')}`);
      platforms.push(tp);
      const lines: { level: number; msg: string; dropped?: Record<string, number> }[] = [];
      const logger = createLogger({
        level: 'warn',
        name: 'tracing-dead-collector',
        destination: { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) },
      });
      const registry = createMetricsRegistry({ service: 'trdead', defaultMetrics: false });
      // A short export timeout so the hanging collector's requests end within the test; a queue
      // far smaller than the burst of spans.
      const tracing = startTracing({
        config: { ...tp.config.tracing, endpoint: collector.url, scheduleDelayMs: 20, exportTimeoutMs: 300, maxQueueSize: MAX_QUEUE },
        serviceName: 'trdead',
        version: VERSION,
        registry,
        logger,
      })!;
      try {
        const platform = createPlatform({ config: tp.config, logger, registry, clientId: 'trdead', tracer: tracing.tracer });
        await platform.serde.registerAll();
        const fatal: unknown[] = [];
        const features = await createFeatureProcessor({ platform, config: tp.config, redis: tp.redis, onFatal: (e) => void fatal.push(e) });
        await features.start();
        const producer = await createProducer(platform.kafka);
        const candles = Array.from({ length: N }, (_, i) => candle(T0 + i * HOUR_MS, 30_000 + (i % 17) * 25));
        // One send: N records, each with a send span of its own, all ended at once (a burst far
        // beyond the queue bound).
        await producer.send(
          candles.map((c) => ({ topic: tp.topic('candles'), key: 'BTCUSDT:1h', value: tp.platform.serde.encode('candles', c), timestamp: c.closeTime })),
        );
        await producer.close();
        await waitFor(async () => (await tp.readAll('features')).length >= N, `${N} feature vectors`, 90_000);
        const vectors = await tp.readAll('features');
        expect(vectors).toHaveLength(N);
        expect(vectors.map((v) => (v.value as { eventTime: number }).eventTime)).toEqual(candles.map((c) => c.closeTime));
        await features.stop();
        expect(fatal).toEqual([]);
        // Shutdown exports what is queued; against a dead collector that fails too (bounded by the
        // export timeout), and then every span is accounted for: none exported, all dropped.
        await tracing.shutdown();
        const dropped = await metricValues(registry, 'bitpredict_tracing_spans_dropped_total');
        const exported = await metricValues(registry, 'bitpredict_tracing_spans_exported_total');
        expect([...exported.values()].reduce((a, b) => a + b, 0)).toBe(0);
        expect(dropped.get('export_failed') ?? 0).toBeGreaterThan(0);
        const totalDropped = (dropped.get('export_failed') ?? 0) + (dropped.get('queue_full') ?? 0);
        // N send spans and N process spans (features), nothing else.
        expect(totalDropped).toBe(2 * N);
        // The queue is bounded: at most MAX_QUEUE spans wait, at most MAX_QUEUE more are in the one
        // export in flight, so of the burst of N send spans at least N - 2 * MAX_QUEUE were dropped
        // on arrival rather than held.
        expect(dropped.get('queue_full') ?? 0).toBeGreaterThanOrEqual(N - 2 * MAX_QUEUE);
        // The broken collectors were asked (and failed); a closed port refuses the connection.
        if (kind !== 'closed port') expect(collector.requests()).toBeGreaterThan(0);
        // One warning for the whole burst, naming the reason; nothing at error level.
        const warnings = lines.filter((l) => l.msg.startsWith('spans dropped'));
        expect(warnings).toHaveLength(1);
        expect(lines.filter((l) => l.level >= 50)).toEqual([]);
      } finally {
        await tracing.shutdown();
      }
    }, 150_000);
  }

  it('a `bitpredict features` process stops on SIGTERM within its shutdown timeout while an export hangs', async () => {
    const collector = await brokenCollector('hang');
    collectors.push(collector);
    const tp = await createTestPlatform('trdead-cli');
    platforms.push(tp);
    const SHUTDOWN_MS = 4000;
    let output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'features'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        BITPREDICT_TOPIC_PREFIX: tp.prefix,
        BITPREDICT_KAFKA_CLIENT: tp.config.kafka.driver,
        BITPREDICT_REDIS_KEY_PREFIX: tp.config.redis.keyPrefix,
        BITPREDICT_KAFKA_CLIENT_ID: tp.config.kafka.clientId,
        BITPREDICT_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_MS),
        BITPREDICT_LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        // An export that would wait far longer than the shutdown deadline.
        OTEL_EXPORTER_OTLP_TIMEOUT: '120000',
        OTEL_BSP_SCHEDULE_DELAY: '20',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const producer = await createProducer(tp.platform.kafka);
      const candles = Array.from({ length: 20 }, (_, i) => candle(T0 + i * HOUR_MS, 30_000 + i));
      await producer.send(
        candles.map((c) => ({ topic: tp.topic('candles'), key: 'BTCUSDT:1h', value: tp.platform.serde.encode('candles', c), timestamp: c.closeTime })),
      );
      await producer.close();
      await waitFor(async () => (await tp.readAll('features')).length >= candles.length, 'the child processed the candles', 90_000);
      // The child's first export reached the collector and hangs there.
      await waitFor(() => collector.requests() > 0, 'an export in flight', 30_000);
      const t0 = Date.now();
      child.kill('SIGTERM');
      // Generous beyond the deadline (process exit, tsx), far below the export's own 120 s.
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), SHUTDOWN_MS + 15_000))]);
      expect(code, output.slice(-3000)).not.toBe('hung');
      expect(Date.now() - t0).toBeLessThan(SHUTDOWN_MS + 15_000);
      expect(output).not.toMatch(/"level":60/);
      // The pipeline's steps all finished; only the export, still waiting on the collector, was
      // cut by the deadline, which the exit code reports (1: a step did not finish).
      const late = output
        .split('\n')
        .filter((l) => l.includes('shutdown step did not finish'))
        .map((l) => (JSON.parse(l) as { step: string }).step);
      expect(late).toEqual(['export traces']);
      expect(code).toBe(1);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 150_000);
});
