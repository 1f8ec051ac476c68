// One root pino logger per process, created at the entrypoint and passed down; components take
// child loggers. The Kafka client's logs are routed into pino by its driver (kafkajs: through
// core/kafka/drivers/kafkajs/logging.ts) so that one stream, one format and one level govern
// everything.
//
// Every line carries `service` and `version` (the root's bindings). Child loggers name their part
// with `component`, never `service` again: pino writes a child's bindings after its parent's
// without merging them, so a second `service` would be a duplicate key in the JSON line (which
// log shippers resolve differently). With tracing on, lines written inside a traced operation
// also carry `trace_id` and `span_id` of the active span (docs/operations.md).
import { context, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { VERSION } from './version.js';

export type { Logger } from 'pino';

/** The active span's ids, for log lines; nothing outside a traced operation. */
function traceFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const c = span.spanContext();
  return { trace_id: c.traceId, span_id: c.spanId };
}

export function createLogger(
  options: {
    level?: string;
    name?: string;
    /** Default: the package version (core/version.ts). */
    version?: string;
    destination?: DestinationStream;
    /** Add trace_id and span_id of the active span (only worth its cost while tracing is on). */
    traceIds?: boolean;
  } = {},
): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.name ?? 'bitpredict', version: options.version ?? VERSION },
    ...(options.traceIds === true ? { mixin: traceFields } : {}),
    // API keys and tokens never reach a log line, whichever object carries the request headers.
    redact: {
      paths: [
        '*.password',
        '*.token',
        '*.bearerToken',
        '*.sasl',
        '*.apiKey',
        'apiKey',
        'headers.authorization',
        'headers["x-api-key"]',
        '*.headers.authorization',
        '*.headers["x-api-key"]',
      ],
      censor: '[redacted]',
    },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
