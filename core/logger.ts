// One root pino logger per process, created at the entrypoint and passed down; components take
// child loggers. The Kafka client's logs are routed into pino by its driver (kafkajs: through
// core/kafka/drivers/kafkajs/logging.ts) so that one stream, one format and one level govern
// everything.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export function createLogger(options: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.name ?? 'bitpredict' },
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
