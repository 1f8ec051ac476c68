// One root pino logger per process, created at the entrypoint and passed down; components take
// child loggers. The Kafka client's logs are routed into pino by its driver (kafkajs: through
// core/kafka/drivers/kafkajs/logging.ts) so that one stream, one format and one level govern
// everything.
//
// Every line carries `service` and `version` (the root's bindings). Child loggers name their part
// with `component`, never `service` again: pino writes a child's bindings after its parent's
// without merging them, so a second `service` would be a duplicate key in the JSON line (which
// log shippers resolve differently). A log call's own object is written after the bindings the
// same way, so a `service` in it (the stack naming the server it killed, say) is renamed to
// `peer_service`, OpenTelemetry's name for the other service a line is about. With tracing on, lines written inside a traced operation
// also carry `trace_id` and `span_id` of the active span (docs/operations.md).
//
// Secrets: besides pino's key-path redaction below, every finished line goes through
// core/redact.ts redactText on its way out (URL passwords, and every password, token and signing
// key the process has read), so a secret quoted by a driver's error message, a `cause` chain, a
// stack or a URL in any field never reaches the log.
import { context, trace } from '@opentelemetry/api';
import { destination, pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { VERSION } from './version.js';
import { redactText } from './redact.js';
import { prettyLogLine, type LogFormat } from './log-format.js';

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
    /** `pretty`: human lines for a terminal (core/log-format.ts); default JSON. */
    format?: LogFormat;
    /** Colour the level of pretty lines. */
    colour?: boolean;
  } = {},
): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.name ?? 'bitpredict', version: options.version ?? VERSION },
    ...(options.traceIds === true ? { mixin: traceFields } : {}),
    formatters: { log: withoutSecondService },
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
  const out = options.destination ?? destination({ dest: 1, sync: true });
  const colour = options.colour === true;
  return pino(opts, redacting(out, options.format === 'pretty' ? (line) => prettyLogLine(line, { colour }) : undefined));
}

/** The log object with its own `service` key, if any, as `peer_service`: the line's `service` is the root's. */
export function withoutSecondService(obj: Record<string, unknown>): Record<string, unknown> {
  if (!Object.hasOwn(obj, 'service')) return obj;
  const { service, ...rest } = obj;
  return { ...rest, peer_service: service };
}

/** A destination that writes each line with its secrets replaced (redactText), then rendered by `render` if given; flushes pass through. */
function redacting(
  inner: DestinationStream & { flush?: (cb?: (err?: Error) => void) => void; flushSync?: () => void },
  render?: (line: string) => string,
): DestinationStream {
  return Object.assign(
    {
      write(line: string): void {
        const safe = redactText(line);
        inner.write(render ? render(safe) : safe);
      },
    },
    inner.flush ? { flush: (cb?: (err?: Error) => void) => inner.flush?.(cb) } : {},
    inner.flushSync ? { flushSync: () => inner.flushSync?.() } : {},
  );
}
