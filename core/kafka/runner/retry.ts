// Bounded retries, then the DLQ: each record goes through the handler up to maxAttempts times
// (with exponential backoff, heartbeating so a long retry does not cost the partition); a record
// that still fails, or is not retryable (undecodable bytes, invalid fields), becomes a DLQ record
// that is produced with the batch's outputs, so a bad record never blocks its partition.
import { context, SpanStatusCode } from '@opentelemetry/api';
import { delay } from '../../time.js';
import type { Logger } from '../../logger.js';
import { errorMessage, isBitPredictError, type ErrorCode } from '../../errors.js';
import type { OutRecord } from '../producer.js';
import type { InRecord } from '../records.js';
import type { RecordTracing } from '../tracing.js';
import { FlushFailure } from './flush.js';
import type { RunnerMetrics } from './metrics.js';
import type { DeadLetterFactory, RecordHandler } from './types.js';

export function classifyError(err: unknown): { code: ErrorCode; retryable: boolean; message: string } {
  if (isBitPredictError(err)) return { code: err.code, retryable: err.retryable, message: err.message };
  return { code: 'ERR_HANDLER', retryable: true, message: errorMessage(err) };
}

/** The records to produce for one input: the handler's outputs, or its DLQ record. */
export type RetryingHandler = (rec: InRecord, heartbeat: () => Promise<void>) => Promise<OutRecord[]>;

export interface RetryDeps {
  groupId: string;
  handler: RecordHandler;
  deadLetter: DeadLetterFactory;
  maxAttempts: number;
  retryBackoffMs: number;
  metrics: RunnerMetrics;
  logger: Logger;
  /** Tracing on: a span per record, continuing the trace of its headers, and its context on the outputs. */
  tracing?: RecordTracing;
}

export function createRetryingHandler(deps: RetryDeps): RetryingHandler {
  const untraced = createUntracedHandler(deps);
  const tracing = deps.tracing;
  if (!tracing) return untraced;
  return async (rec, heartbeat) => {
    const { span, ctx } = tracing.startProcess(rec, deps.groupId);
    try {
      // Every attempt, the DLQ decision and the handler's log lines run inside the record's span.
      const out = await context.with(ctx, () =>
        untraced(rec, heartbeat, (code, message) => span.setStatus({ code: SpanStatusCode.ERROR, message: `${code}: ${message}` })),
      );
      // At debug level, one line per record, inside its span: the line carries the trace id.
      context.with(ctx, () => deps.logger.debug({ topic: rec.topic, partition: rec.partition, offset: rec.offset, outputs: out.length }, 'record processed'));
      return tracing.stamp(out, ctx);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
      throw err;
    } finally {
      span.end();
    }
  };
}

function createUntracedHandler(
  deps: RetryDeps,
): (rec: InRecord, heartbeat: () => Promise<void>, onDeadLetter?: (code: ErrorCode, message: string) => void) => Promise<OutRecord[]> {
  const { groupId, handler, deadLetter, maxAttempts, retryBackoffMs, metrics, logger } = deps;
  return async (rec, heartbeat, onDeadLetter) => {
    for (let attempt = 1; ; attempt++) {
      const stop = metrics.handlerTimer();
      try {
        const out = (await handler(rec, { heartbeat })) ?? [];
        stop();
        metrics.handled();
        return out;
      } catch (err) {
        stop();
        const c = classifyError(err);
        if (c.retryable && attempt < maxAttempts) {
          metrics.retried();
          logger.warn({ topic: rec.topic, partition: rec.partition, offset: rec.offset, attempt, code: c.code, err }, 'handler failed; retrying');
          await delay(retryBackoffMs * 2 ** (attempt - 1));
          await heartbeat();
          continue;
        }
        metrics.deadLettered(c.code);
        onDeadLetter?.(c.code, c.message);
        logger.warn({ topic: rec.topic, partition: rec.partition, offset: rec.offset, attempts: attempt, code: c.code, err }, 'record sent to the DLQ');
        try {
          return [await deadLetter(rec, { code: c.code, message: c.message, attempts: attempt }, groupId)];
        } catch (dlqErr) {
          // Neither handled nor dead-lettered: the record must not be skipped, so stop (restart
          // re-reads it from the committed offset).
          throw new FlushFailure(dlqErr);
        }
      }
    }
  };
}
