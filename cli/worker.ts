// Thin entrypoint shared by the service commands: config -> logger -> metrics -> platform ->
// topics and schemas -> service -> health server -> ready; one ordered shutdown on SIGTERM/SIGINT
// or a fatal error (not ready, stop intake and drain, disconnect, close Redis, flush logs, exit).
import type { CommandContext } from './context.js';
import type { BitPredictError } from '../core/errors.js';
import { createLifecycle, type Lifecycle } from '../core/lifecycle.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas, type Platform } from '../core/runtime.js';
import { createRedis, type Redis } from '../core/redis.js';
import { startHealthServer } from '../core/health.js';
import type { Service } from '../core/service.js';
import { createProducer, type Producer } from '../core/kafka/producer.js';

export interface WorkerDeps {
  platform: Platform;
  redis: Redis;
  lifecycle: Lifecycle;
  onFatal(err: BitPredictError): void;
}

export async function runWorker(ctx: CommandContext, name: string, build: (deps: WorkerDeps) => Promise<Service>): Promise<number> {
  const { config, logger } = ctx;
  const registry = createMetricsRegistry({ service: name });
  const lifecycle = createLifecycle({ logger, timeoutMs: config.lifecycle.shutdownTimeoutMs });
  lifecycle.onShutdown('flush logs', () => logger.flush());
  lifecycle.installSignalHandlers({ exit: false });
  let exitCode = 0;
  const onFatal = (err: BitPredictError): void => {
    exitCode = 1;
    logger.error({ code: err.code, err }, 'fatal error; shutting down');
    void lifecycle.shutdown(`fatal: ${err.code}`);
  };
  const platform = createPlatform({ config, logger, registry, clientId: name });
  await prepareTopicsAndSchemas(platform, config.kafka);
  const redis = await createRedis({ url: config.redis.url, logger });
  lifecycle.onShutdown('close redis', async () => {
    await redis.quit();
  });
  try {
    const service = await build({ platform, redis, lifecycle, onFatal });
    if (config.lifecycle.healthPort > 0) {
      const health = await startHealthServer({
        port: config.lifecycle.healthPort,
        registry,
        readiness: () => {
          const r = service.readiness();
          return { ready: r.ready && lifecycle.ready, checks: r.checks };
        },
      });
      lifecycle.onShutdown('health server', () => health.close());
      logger.info({ port: health.port }, 'health server listening (/healthz /readyz /metrics)');
    }
    lifecycle.onShutdown(`stop ${name}`, () => service.stop());
    await service.start();
  } catch (err) {
    // A service that cannot be built or started (bad model folder, broker gone) must not leave
    // Redis or Kafka connections open: the process would report the error and then never exit.
    await lifecycle.shutdown('start failed');
    throw err;
  }
  lifecycle.setReady(true);
  logger.info({ service: name }, 'started');
  const ok = await lifecycle.done;
  return ok ? exitCode : 1;
}

/**
 * One-shot producer commands (replay, text-replay): platform -> topics and schemas -> producer ->
 * job; Ctrl-C or SIGTERM aborts the job between batches. Prints the job's summary as one JSON
 * line; exit code 130 when aborted.
 */
export async function runOneShot(
  ctx: CommandContext,
  name: string,
  job: (deps: { platform: Platform; producer: Producer; signal: AbortSignal }) => Promise<{ aborted: boolean }>,
): Promise<number> {
  const platform = createPlatform({ config: ctx.config, logger: ctx.logger, registry: createMetricsRegistry({ service: name }), clientId: name });
  await prepareTopicsAndSchemas(platform, ctx.config.kafka);
  const producer = await createProducer(platform.kafka);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await job({ platform, producer, signal: abort.signal });
    ctx.output.json(summary);
    return summary.aborted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await producer.close();
  }
}
