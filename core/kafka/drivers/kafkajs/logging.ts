// kafkajs' logs routed into pino, at the matching level, under the logger the driver was given
// (the client's `kafka` component). kafkajs logs at ERROR many conditions it retries by itself as
// part of normal operation; those are lowered here, so that an alert on error logs pages only on
// failures. A failure that outlasts kafkajs' retries still reaches our code as an exception, which
// logs it at error (the consumer runner, the producers).
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import type { LogEntry, logLevel as LogLevelEnum } from 'kafkajs';
import type { Logger } from '../../../logger.js';

const { logLevel } = kafkajs;

interface ProtocolErrorSpec {
  type: string;
  code: number;
  retriable: boolean;
  message: string;
}

// kafkajs' retriers log a protocol error by its message alone (no type or code in the entry), so
// its own table of protocol errors, the one it builds those errors from, maps the message back.
// kafkajs 2.2.4 is the last release (pinned in package.json); logging.test.ts fails if the table
// moves or loses the entries relied on here.
const { errorCodes } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { errorCodes: ProtocolErrorSpec[] };
const PROTOCOL_ERRORS = new Map(errorCodes.map((e) => [e.message, e]));

/**
 * Protocol errors of normal operation, by Kafka error code: a leader election (5, 6), a group or
 * transaction coordinator that is loading, moving or not yet elected (14, 15, 16), and a
 * transaction whose commit or abort the broker is still completing when the next one starts (51,
 * CONCURRENT_TRANSACTIONS: the broker tells clients to retry). Retried, they are debug noise. A
 * rebalance (27) is not among them: kafkajs marks it not retriable and logs the re-join itself at
 * WARN ("The group is rebalancing, re-joining"), which stays.
 */
const BENIGN_CODES = new Set([5, 6, 14, 15, 16, 51]);

/** Messages kafkajs logs at ERROR for conditions it recovers from by itself (re-joining the group). */
const RECOVERED_MESSAGES = new Set(['The coordinator is not aware of this member, re-joining the group']);

/** The protocol error a kafkajs log message reports, if it is one ("Failed to send messages: <message>" included). */
export function protocolErrorOf(message: string): ProtocolErrorSpec | undefined {
  return PROTOCOL_ERRORS.get(message.replace(/^Failed to send messages: /, ''));
}

/**
 * The level a kafkajs log entry is written at. Lowered, never raised:
 * - every error response a connection logs ("Response <api>"): debug, since kafkajs handles the
 *   retriable ones (coordinator loading, leader moved) and the failures that matter reach us as
 *   exceptions;
 * - a retriable protocol error logged inside one of kafkajs' retriers (the entry has retryCount), so
 *   it is tried again: debug for the conditions of normal operation (BENIGN_CODES), warn for the
 *   others (timeouts, too few replicas: worth seeing, not yet a failure);
 * - a condition kafkajs recovers from by re-joining the group: warn.
 * Non-retriable protocol errors (a fenced producer, refused credentials) and everything else keep
 * kafkajs' level.
 */
export function kafkaJsEntryLevel(namespace: string, level: LogLevelEnum, message: string, extra: Record<string, unknown>): LogLevelEnum {
  if (namespace === 'Connection' && message.startsWith('Response ')) return logLevel.DEBUG;
  if (level !== logLevel.ERROR) return level;
  if (RECOVERED_MESSAGES.has(message)) return logLevel.WARN;
  const spec = protocolErrorOf(message);
  if (spec?.retriable && typeof extra.retryCount === 'number') return BENIGN_CODES.has(spec.code) ? logLevel.DEBUG : logLevel.WARN;
  return level;
}

export function pinoLogCreator(logger: Logger) {
  return (_level: LogLevelEnum) =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _ts, logger: _l, stack, ...extra } = log as { message: string; timestamp: string; logger?: string; stack?: string };
      // kafkajs attaches stack traces to expected conditions (a refused connection); keep them for debugging only.
      const fields = logger.isLevelEnabled('debug') && stack ? { kafkaNamespace: namespace, ...extra, stack } : { kafkaNamespace: namespace, ...extra };
      const effective = kafkaJsEntryLevel(namespace, level, message, extra);
      switch (effective) {
        case logLevel.ERROR:
          logger.error(fields, message);
          break;
        case logLevel.WARN:
          logger.warn(fields, message);
          break;
        case logLevel.INFO:
          logger.info(fields, message);
          break;
        default:
          logger.debug(fields, message);
      }
    };
}

export function kafkaLogLevel(logger: Logger): LogLevelEnum {
  switch (logger.level) {
    case 'trace':
    case 'debug':
      return logLevel.DEBUG;
    case 'info':
      // kafkajs is chatty at INFO (every join/leave); keep it at WARN unless debugging.
      return logLevel.WARN;
    case 'silent':
      return logLevel.NOTHING;
    default:
      return logLevel.WARN;
  }
}
