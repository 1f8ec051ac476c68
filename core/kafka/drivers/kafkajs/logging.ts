// kafkajs' logs routed into pino, at the matching level, under the logger the driver was given
// (the client's `kafka` component).
import kafkajs from 'kafkajs';
import type { LogEntry, logLevel as LogLevelEnum } from 'kafkajs';
import type { Logger } from '../../../logger.js';

const { logLevel } = kafkajs;

export function pinoLogCreator(logger: Logger) {
  return (_level: LogLevelEnum) =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _ts, logger: _l, stack, ...extra } = log as { message: string; timestamp: string; logger?: string; stack?: string };
      // kafkajs attaches stack traces to expected conditions (a refused connection); keep them for debugging only.
      const fields = logger.isLevelEnabled('debug') && stack ? { kafkaNamespace: namespace, ...extra, stack } : { kafkaNamespace: namespace, ...extra };
      // kafkajs logs every error response at ERROR, including the retriable ones it handles
      // itself (coordinator loading, leader moved); the failures that matter reach us as
      // exceptions, so these stay at debug.
      const effective = namespace === 'Connection' && message.startsWith('Response ') ? logLevel.DEBUG : level;
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
