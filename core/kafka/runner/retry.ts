// Retries, waits and the DLQ, by what a failure means (classify.ts):
//   - a dependency down (Redis, the schema registry, Kafka): the record is fine, so it is never
//     dead-lettered; the runner retries it with capped exponential backoff until the dependency
//     answers, heartbeating so the group keeps the partition here, and reports the wait (readiness
//     false, a log line when it starts, rarely while it lasts, once when it ends; metrics). The
//     wait holds the batch, so the partition (with kafkajs' one-batch-at-a-time, the consumer)
//     makes no progress meanwhile; nothing is in a Kafka transaction while it waits (outputs go out
//     in one transaction at flush time, after the handler), so exactly-once cannot time out;
//   - a transient failure (unclassified): up to maxAttempts, then the DLQ;
//   - a permanent one (undecodable bytes, invalid fields): the DLQ at once.
// A DLQ record is produced with the batch's outputs, so a bad record never blocks its partition.
import { context, SpanStatusCode } from '@opentelemetry/api';
import { delay } from '../../time.js';
import { backoffMs } from '../../backoff.js';
import type { Logger } from '../../logger.js';
import { errorMessage, isBitPredictError, type ErrorCode } from '../../errors.js';
import type { OutRecord } from '../producer.js';
import type { InRecord } from '../records.js';
import type { RecordTracing } from '../tracing.js';
import { FlushFailure } from './flush.js';
import type { RunnerMetrics } from './metrics.js';
import { classifyFailure } from './classify.js';
import { tpKey } from './rebalance.js';
import { dependencyBackoff, sleepHeld, type DependencyWaits, type RecordControls } from './waits.js';
import type { DeadLetterFactory, RecordHandler } from './types.js';

export function classifyError(err: unknown): { code: ErrorCode; retryable: boolean; message: string } {
  if (isBitPredictError(err)) return { code: err.code, retryable: err.retryable, message: err.message };
  return { code: 'ERR_HANDLER', retryable: true, message: errorMessage(err) };
}

export type { RecordControls } from './waits.js';

/**
 * The records to produce for one input: the handler's outputs, or its DLQ record; null when the
 * record was given up while waiting for a dependency (the consumer stops, or the partition was
 * revoked): it is neither done nor dead-lettered, and must be read again.
 */
export type RetryingHandler = (rec: InRecord, controls: RecordControls) => Promise<OutRecord[] | null>;

export interface RetryDeps {
  groupId: string;
  handler: RecordHandler;
  deadLetter: DeadLetterFactory;
  maxAttempts: number;
  retryBackoffMs: number;
  /** Cap of the backoff while waiting for a dependency (it doubles from retryBackoffMs up to this). */
  dependencyBackoffMaxMs: number;
  waits: DependencyWaits;
  metrics: RunnerMetrics;
  logger: Logger;
  /** Tracing on: a span per record, continuing the trace of its headers, and its context on the outputs. */
  tracing?: RecordTracing;
}

export function createRetryingHandler(deps: RetryDeps): RetryingHandler {
  const untraced = createUntracedHandler(deps);
  const tracing = deps.tracing;
  if (!tracing) return untraced;
  return async (rec, controls) => {
    const { span, ctx } = tracing.startProcess(rec, deps.groupId);
    try {
      // Every attempt, the DLQ decision and the handler's log lines run inside the record's span.
      const out = await context.with(ctx, () =>
        untraced(rec, controls, (code, message) => span.setStatus({ code: SpanStatusCode.ERROR, message: `${code}: ${message}` })),
      );
      if (out === null) return null;
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
): (rec: InRecord, controls: RecordControls, onDeadLetter?: (code: ErrorCode, message: string) => void) => Promise<OutRecord[] | null> {
  const { groupId, handler, deadLetter, maxAttempts, retryBackoffMs, metrics, logger, waits } = deps;
  const policy = dependencyBackoff(retryBackoffMs, deps.dependencyBackoffMaxMs);
  return async (rec, controls, onDeadLetter) => {
    const key = tpKey(rec.topic, rec.partition);
    const where = { topic: rec.topic, partition: rec.partition, offset: rec.offset };
    const heartbeat = controls.heartbeat;
    // transient: failures counted against maxAttempts; dependency: consecutive dependency failures.
    let transient = 0;
    let dependency = 0;
    let settled = false;
    try {
      for (let attempt = 1; ; attempt++) {
        const stop = metrics.handlerTimer();
        try {
          const out = (await handler(rec, { heartbeat })) ?? [];
          stop();
          metrics.handled();
          settled = true;
          waits.recovered(key, where);
          return out;
        } catch (err) {
          stop();
          const c = classifyFailure(err);
          if (c.kind === 'dependency') {
            dependency++;
            metrics.retried();
            waits.failed(key, where, c.code, err);
            if (!(await sleepHeld(backoffMs(policy, dependency), controls))) {
              settled = true;
              waits.abandoned(key, where, controls.isRunning() ? 'the partition was revoked' : 'the consumer is stopping');
              return null;
            }
            continue;
          }
          dependency = 0;
          if (c.kind === 'transient' && ++transient < maxAttempts) {
            metrics.retried();
            logger.warn({ ...where, attempt, code: c.code, err }, 'handler failed; retrying');
            await delay(retryBackoffMs * 2 ** (transient - 1));
            await heartbeat();
            continue;
          }
          settled = true;
          waits.recovered(key, where);
          metrics.deadLettered(c.code);
          onDeadLetter?.(c.code, c.message);
          logger.warn({ ...where, attempts: attempt, code: c.code, err }, 'record sent to the DLQ');
          try {
            return [await deadLetter(rec, { code: c.code, message: c.message, attempts: attempt }, groupId)];
          } catch (dlqErr) {
            // Neither handled nor dead-lettered: the record must not be skipped, so stop (restart
            // re-reads it from the committed offset).
            throw new FlushFailure(dlqErr);
          }
        }
      }
    } finally {
      // A heartbeat refused by a rebalance (or any throw) ends the wait too.
      if (!settled) waits.abandoned(key, where, 'the batch was given up');
    }
  };
}
