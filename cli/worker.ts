// Thin entrypoint shared by the service commands: config -> logger -> metrics -> health server
// (alive, not ready) -> platform -> topics and schemas -> Redis -> service -> ready; one ordered
// shutdown on SIGTERM/SIGINT or a fatal error (not ready, stop intake and drain, disconnect, close
// Redis, flush logs, exit). Connecting is retried with backoff (core/startup.ts): in a cluster the
// brokers may be down when a pod starts, and a pod that exits for it only crash-loops.
import type { CommandContext } from './context.js';
import type { Config } from '../core/config.js';
import type { BitPredictError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { createLifecycle, type Lifecycle } from '../core/lifecycle.js';
import { createMetricsRegistry, type Registry } from '../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas, type Platform } from '../core/runtime.js';
import { createRedis, type Redis } from '../core/redis.js';
import { startHealthServer } from '../core/health.js';
import type { Readiness, Service } from '../core/service.js';
import { createStartupRetry, StartupAborted, type StartupRetry } from '../core/startup.js';
import { createProducer, type Producer } from '../core/kafka/producer.js';
import type { Tracing } from '../core/tracing-config.js';
import { startCommandTracing } from './tracing.js';

export interface WorkerDeps {
  platform: Platform;
  redis: Redis;
  lifecycle: Lifecycle;
  onFatal(err: BitPredictError): void;
}

export interface WorkerOptions {
  /**
   * Where the probes go when the service serves them itself (the gateway, on its own port). A
   * startup-only health server answers there while connecting, and closes just before the service
   * builds and listens on that port.
   */
  startupProbe?: { host: string; port: number };
}

/** Platform and Redis, each step retried while it fails with a retryable error. */
async function connect(
  config: Config,
  logger: Logger,
  registry: Registry,
  name: string,
  startup: StartupRetry,
  tracing: Tracing | null,
): Promise<{ platform: Platform; redis: Redis }> {
  // No I/O yet; a wrong TLS or SASL file path fails here, at once, as a configuration error.
  const platform = createPlatform({ config, logger, registry, clientId: name, ...(tracing ? { tracer: tracing.tracer } : {}) });
  await startup.run('Kafka and the schema registry', () => prepareTopicsAndSchemas(platform, config.kafka));
  const redis = await startup.run(
    'Redis',
    () => createRedis({ config: config.redis, logger }),
    (late) => late.disconnect(),
  );
  return { platform, redis };
}

/**
 * Health servers that answer from the first second: on BITPREDICT_HEALTH_PORT for the life of the
 * process, and the service's own port while connecting (options.startupProbe). Returns the close
 * of the startup-only one (idempotent).
 */
async function startProbes(
  deps: { config: Config; logger: Logger; registry: Registry; lifecycle: Lifecycle; readiness: () => Readiness },
  options: WorkerOptions,
): Promise<() => Promise<void>> {
  const { config, logger, registry, lifecycle, readiness } = deps;
  const healthPort = config.lifecycle.healthPort;
  if (healthPort > 0) {
    const health = await startHealthServer({ port: healthPort, registry, readiness });
    lifecycle.onShutdown('health server', () => health.close());
    logger.info({ port: health.port }, 'health server listening (/healthz /readyz /metrics)');
  }
  const probe = options.startupProbe;
  if (!probe || probe.port === healthPort) return () => Promise.resolve();
  const early = await startHealthServer({ host: probe.host, port: probe.port, registry, readiness });
  logger.info({ port: early.port }, 'startup health server listening until connected (/healthz /readyz /metrics)');
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => (closed ??= early.close());
  lifecycle.onShutdown('startup health server', close);
  return close;
}

/**
 * How long a worker may linger after its shutdown has run. A shutdown step that timed out (Kafka
 * gone while the producer flushes, say) can leave a socket or a timer open, and the process would
 * then live on with its health server already closed: not serving, not restarting. Past this
 * grace it exits with its code instead (the timer is unref'd: a clean shutdown exits at once).
 */
export const EXIT_GRACE_MS = 5_000;

export async function runWorker(
  ctx: CommandContext,
  name: string,
  build: (deps: WorkerDeps) => Promise<Service>,
  options: WorkerOptions = {},
): Promise<number> {
  let code = 1;
  try {
    code = await runWorkerUntilShutdown(ctx, name, build, options);
    return code;
  } finally {
    setTimeout(() => {
      ctx.logger.error({ graceMs: EXIT_GRACE_MS, code }, 'still running after shutdown (a connection or timer was left open); exiting');
      ctx.logger.flush();
      process.exit(code);
    }, EXIT_GRACE_MS).unref();
  }
}

async function runWorkerUntilShutdown(
  ctx: CommandContext,
  name: string,
  build: (deps: WorkerDeps) => Promise<Service>,
  options: WorkerOptions = {},
): Promise<number> {
  const { config, logger } = ctx;
  const registry = createMetricsRegistry({ service: name });
  const lifecycle = createLifecycle({ logger, timeoutMs: config.lifecycle.shutdownTimeoutMs });
  lifecycle.onShutdown('flush logs', () => logger.flush());
  // Registered early so that it runs late: the spans of the drain are exported too.
  const tracing = await startCommandTracing(config, name, registry, logger);
  if (tracing) lifecycle.onShutdown('export traces', () => tracing.shutdown());
  lifecycle.installSignalHandlers({ exit: false });
  let exitCode = 0;
  const onFatal = (err: BitPredictError): void => {
    exitCode = 1;
    logger.error({ code: err.code, err }, 'fatal error; shutting down');
    void lifecycle.shutdown(`fatal: ${err.code}`);
  };
  const startup = createStartupRetry({ logger, maxMs: config.lifecycle.startupRetryMaxMs });
  let service: Service | null = null;
  const readiness = (): Readiness => {
    if (!service) return startup.readiness();
    const r = service.readiness();
    return { ...r, ready: r.ready && lifecycle.ready };
  };
  let closeStartupProbe: () => Promise<void>;
  try {
    closeStartupProbe = await startProbes({ config, logger, registry, lifecycle, readiness }, options);
  } catch (err) {
    // A port in use: close what did start, or the open server would keep the process alive.
    await lifecycle.shutdown('start failed');
    throw err;
  }
  // Registered last so that it runs first: SIGTERM while connecting ends the wait at once.
  lifecycle.onShutdown('stop connecting', () => startup.abort());

  let connected: { platform: Platform; redis: Redis };
  try {
    connected = await connect(config, logger, registry, name, startup, tracing);
    await closeStartupProbe();
  } catch (err) {
    if (err instanceof StartupAborted) {
      logger.info({ reason: err.message }, 'stopped before connecting');
      return (await lifecycle.done) ? exitCode : 1;
    }
    await lifecycle.shutdown('start failed');
    throw err;
  }
  const { platform, redis } = connected;
  if (lifecycle.shuttingDown) {
    // SIGTERM came as the last connection succeeded: do not build a service nobody will stop.
    await redis.quit();
    return (await lifecycle.done) ? exitCode : 1;
  }
  lifecycle.onShutdown('close redis', async () => {
    await redis.quit();
  });
  try {
    const built = await build({ platform, redis, lifecycle, onFatal });
    service = built;
    lifecycle.onShutdown(`stop ${name}`, () => built.stop());
    await built.start();
  } catch (err) {
    // A service that cannot be built or started (bad model folder, broker gone) must not leave
    // Redis or Kafka connections open: the process would report the error and then never exit.
    await lifecycle.shutdown('start failed');
    throw err;
  }
  lifecycle.setReady(true);
  logger.info({ command: name }, 'started');
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
  const registry = createMetricsRegistry({ service: name });
  const tracing = await startCommandTracing(ctx.config, name, registry, ctx.logger);
  const platform = createPlatform({ config: ctx.config, logger: ctx.logger, registry, clientId: name, ...(tracing ? { tracer: tracing.tracer } : {}) });
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
    await tracing?.shutdown();
  }
}
