// OpenTelemetry tracing, on only when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; docs/operations.md). startTracing returns null otherwise,
// and every instrumented place checks for a tracer before it does anything, so a process without an
// endpoint runs no SDK code at all (bench/tracing.ts measures it).
//
// With an endpoint: one tracer provider, registered globally together with an AsyncLocalStorage
// context manager (context must follow the handler's awaits so that child spans and log lines see
// the active span); spans are batched by a bounded queue and posted as OTLP/HTTP JSON. The queue is
// ours rather than the SDK's BatchSpanProcessor so that what a slow or dead collector costs is
// visible: a full queue drops new spans, a failed export drops its batch, both counted by reason in
// bitpredict_tracing_spans_dropped_total and warned about (at most once a minute), never retried
// into unbounded memory, never in the way of the pipeline.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, ParentBasedSampler, TracerProvider, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { counter, type Registry } from './metrics.js';
import { tracesUrl, type Tracing } from './tracing-config.js';

export { tracesUrl, type Tracing };

/** The largest batch one export request carries. */
const MAX_EXPORT_BATCH = 512;
/** At most one warning per this many ms about dropped spans. */
const WARN_EVERY_MS = 60_000;

/**
 * A span processor with a bounded queue: spans wait at most scheduleDelayMs (or until a batch is
 * full), one export runs at a time, and whatever does not fit or fails to export is dropped and
 * counted. Nothing here blocks or throws into the code that ends a span.
 */
export function createBoundedSpanProcessor(deps: {
  exporter: SpanExporter;
  maxQueueSize: number;
  scheduleDelayMs: number;
  exportTimeoutMs: number;
  registry: Registry;
  logger: Logger;
}): SpanProcessor {
  const { exporter, maxQueueSize, scheduleDelayMs, exportTimeoutMs, logger } = deps;
  const exported = counter(deps.registry, 'bitpredict_tracing_spans_exported_total', 'Spans the OTLP collector accepted');
  const dropped = counter(
    deps.registry,
    'bitpredict_tracing_spans_dropped_total',
    'Spans not exported, by reason: queue_full (the export queue, OTEL_BSP_MAX_QUEUE_SIZE, was full) or export_failed (the collector refused or did not answer)',
    ['reason'],
  );
  let queue: ReadableSpan[] = [];
  let inFlight: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let lastWarn = 0;
  const pending = { queue_full: 0, export_failed: 0 };

  function drop(reason: 'queue_full' | 'export_failed', n: number, err?: unknown): void {
    dropped.inc({ reason }, n);
    pending[reason] += n;
    const now = Date.now();
    if (now - lastWarn < WARN_EVERY_MS) return;
    lastWarn = now;
    // The pipeline is unaffected; this only says that traces are incomplete and why.
    logger.warn({ dropped: { ...pending }, err }, 'spans dropped: the OTLP collector is unreachable or slow (tracing only; the pipeline carries on)');
    pending.queue_full = 0;
    pending.export_failed = 0;
  }

  function exportBatch(batch: ReadableSpan[]): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (ok: boolean, err?: unknown): void => {
        if (done) return;
        done = true;
        clearTimeout(guard);
        if (ok) exported.inc(batch.length);
        else drop('export_failed', batch.length, err);
        resolve();
      };
      // The exporter has its own timeout; this one only guarantees that a lost callback cannot
      // hold the single export slot forever.
      const guard = setTimeout(() => finish(false, new Error(`no answer from the exporter within ${exportTimeoutMs + 1000} ms`)), exportTimeoutMs + 1000);
      guard.unref();
      try {
        exporter.export(batch, (r) => finish(r.code === ExportResultCode.SUCCESS, r.error));
      } catch (err) {
        finish(false, err);
      }
    });
  }

  /** Exports the queue in batches, one request at a time; resolves when the queue is empty. */
  function drain(): Promise<void> {
    if (inFlight) return inFlight;
    inFlight = (async () => {
      while (queue.length > 0) {
        const batch = queue.slice(0, MAX_EXPORT_BATCH);
        queue = queue.slice(batch.length);
        await exportBatch(batch);
      }
    })().finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  function schedule(): void {
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = null;
      void drain();
    }, scheduleDelayMs);
    timer.unref();
  }

  return {
    onStart() {},
    onEnd(span) {
      if (stopped) return;
      if (queue.length >= maxQueueSize) {
        drop('queue_full', 1);
        return;
      }
      queue.push(span);
      if (queue.length >= MAX_EXPORT_BATCH && !inFlight) void drain();
      else schedule();
    },
    async forceFlush() {
      // A drain in flight may have started before the latest spans were queued: drain again.
      await drain();
      if (queue.length > 0) await drain();
    },
    async shutdown() {
      if (timer) clearTimeout(timer);
      timer = null;
      await drain();
      if (queue.length > 0) await drain();
      stopped = true;
      await exporter.shutdown();
    },
  };
}

/**
 * Starts tracing when an endpoint is configured; null (and nothing loaded or registered) otherwise.
 * One per process: the provider and the context manager are global, as OpenTelemetry's API is.
 */
export function startTracing(deps: { config: Config['tracing']; serviceName: string; version: string; registry: Registry; logger: Logger }): Tracing | null {
  const url = tracesUrl(deps.config);
  if (url === null) return null;
  const { config, logger } = deps;
  const log = logger.child({ component: 'tracing' });
  // Unref'd sockets: an export in flight to a collector that never answers must not keep the
  // process alive after its shutdown completed (it would linger until OTEL_EXPORTER_OTLP_TIMEOUT;
  // test/integration/tracing-dead-collector.test.ts). Loaded lazily, as the SDK asks of factories.
  const exporter = new OTLPTraceExporter({
    url,
    timeoutMillis: config.exportTimeoutMs,
    httpAgentOptions: async (protocol) => {
      const mod = protocol === 'https:' ? await import('node:https') : await import('node:http');
      const agent = new mod.Agent({ keepAlive: true });
      agent.on('free', (socket: { unref: () => unknown }) => {
        socket.unref();
      });
      // createConnection is Agent's documented hook but not in @types/node's http.Agent.
      type Unrefable = { unref?: () => unknown } | undefined;
      const hooked = agent as unknown as { createConnection: (...args: unknown[]) => Unrefable };
      const create = hooked.createConnection.bind(agent);
      hooked.createConnection = (...args: unknown[]): Unrefable => {
        const socket = create(...args);
        socket?.unref?.();
        return socket;
      };
      return agent;
    },
  });
  const processor = createBoundedSpanProcessor({
    exporter,
    maxQueueSize: config.maxQueueSize,
    scheduleDelayMs: config.scheduleDelayMs,
    exportTimeoutMs: config.exportTimeoutMs,
    registry: deps.registry,
    logger: log,
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': deps.serviceName, 'service.version': deps.version }),
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [processor],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  log.info({ url, serviceName: deps.serviceName }, 'tracing on: spans exported over OTLP/HTTP');
  let shut: Promise<void> | null = null;
  return {
    tracer: provider.getTracer('bitpredict', deps.version),
    url,
    flush: () => provider.forceFlush(),
    shutdown() {
      shut ??= (async () => {
        try {
          await provider.shutdown();
        } finally {
          trace.disable();
          context.disable();
        }
      })();
      return shut;
    },
  };
}
