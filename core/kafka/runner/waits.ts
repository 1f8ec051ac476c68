// The partitions a runner holds still because a dependency is down (see classify.ts): what
// readiness reports, what the log says (once when a wait starts, then at most every
// stillWaitingLogMs, then once when it ends) and what the metrics count.
import type { Logger } from '../../logger.js';
import type { ErrorCode } from '../../errors.js';
import { backoffMs, type BackoffPolicy } from '../../backoff.js';
import { delay } from '../../time.js';
import type { BatchControls } from '../driver.js';
import { classifyFailure } from './classify.js';
import type { RunnerMetrics } from './metrics.js';

/** What a wait needs of the batch it runs in. */
export type RecordControls = Pick<BatchControls, 'heartbeat' | 'isRunning' | 'isStale'>;

/** Minimum wait between attempts while a dependency is down (a zero base must not spin). */
const MIN_DEPENDENCY_BACKOFF_MS = 50;
/** The longest single sleep: the consumer's stop, a revocation and heartbeats are checked at least this often. */
const SLEEP_SLICE_MS = 1000;

/** Doubling from retryBackoffMs up to maxMs, with half jitter so instances do not retry in step. */
export function dependencyBackoff(retryBackoffMs: number, maxMs: number): BackoffPolicy {
  return {
    baseMs: Math.max(retryBackoffMs, MIN_DEPENDENCY_BACKOFF_MS),
    maxMs: Math.max(maxMs, MIN_DEPENDENCY_BACKOFF_MS),
    jitter: 'half',
    random: Math.random,
  };
}

/** Sleeps `ms` in slices, heartbeating after each; false as soon as the consumer stops or the partition is revoked. */
export async function sleepHeld(ms: number, controls: RecordControls): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (!controls.isRunning() || controls.isStale()) return false;
    const left = until - Date.now();
    if (left <= 0) break;
    await delay(Math.min(left, SLEEP_SLICE_MS));
    if (!controls.isRunning() || controls.isStale()) return false;
    // Keeps the group membership; throws once a rebalance took the partition.
    await controls.heartbeat();
  }
  return true;
}

/**
 * Runs `fn` until it succeeds, waiting out dependency failures the same way the record handler
 * does (for work around a flush, like the predictor's Redis writes just before it). Any other
 * failure is thrown. False when the wait was given up (stopping, or the partition was revoked).
 */
export type DependencyHold = (key: string, ctx: Record<string, unknown>, controls: RecordControls, fn: () => Promise<void>) => Promise<boolean>;

export function createDependencyHold(deps: { waits: DependencyWaits; metrics: RunnerMetrics; policy: BackoffPolicy }): DependencyHold {
  const { waits, metrics, policy } = deps;
  return async (key, ctx, controls, fn) => {
    let failures = 0;
    let settled = false;
    try {
      for (;;) {
        try {
          await fn();
          settled = true;
          waits.recovered(key, ctx);
          return true;
        } catch (err) {
          const c = classifyFailure(err);
          if (c.kind !== 'dependency') throw err;
          failures++;
          metrics.retried();
          waits.failed(key, ctx, c.code, err);
          if (!(await sleepHeld(backoffMs(policy, failures), controls))) {
            settled = true;
            waits.abandoned(key, ctx, controls.isRunning() ? 'the partition was revoked' : 'the consumer is stopping');
            return false;
          }
        }
      }
    } finally {
      if (!settled) waits.abandoned(key, ctx, 'the flush failed otherwise');
    }
  };
}

export interface DependencyWait {
  /** The code of the last failure of the oldest wait. */
  code: ErrorCode;
  /** When the oldest wait started (ms). */
  since: number;
  /** Partitions waiting (tpKey form). */
  partitions: string[];
}

interface Waiting {
  code: ErrorCode;
  since: number;
  attempts: number;
  lastLog: number;
}

export interface DependencyWaits {
  /** A dependency failure on this partition: starts its wait, or counts one more attempt of it. */
  failed(key: string, ctx: Record<string, unknown>, code: ErrorCode, err: unknown): void;
  /** The partition's record went through: its wait (if any) ends. */
  recovered(key: string, ctx: Record<string, unknown>): void;
  /** The wait ended without the dependency coming back (stop, rebalance). */
  abandoned(key: string, ctx: Record<string, unknown>, why: string): void;
  /** A group join: waits of partitions this member no longer owns end (their new owner waits if it must). */
  retain(owned: ReadonlySet<string>): void;
  /** The oldest wait, or null when nothing waits. */
  current(): DependencyWait | null;
}

export function createDependencyWaits(deps: { metrics: RunnerMetrics; logger: Logger; stillWaitingLogMs: number; now?: () => number }): DependencyWaits {
  const { metrics, logger } = deps;
  const now = deps.now ?? Date.now;
  const waits = new Map<string, Waiting>();

  function end(key: string): Waiting | undefined {
    const w = waits.get(key);
    if (!w) return undefined;
    waits.delete(key);
    metrics.dependencyWaitEnded(w.code, (now() - w.since) / 1000, waits.size);
    return w;
  }

  return {
    failed(key, ctx, code, err) {
      const t = now();
      const w = waits.get(key);
      if (!w) {
        waits.set(key, { code, since: t, attempts: 1, lastLog: t });
        metrics.dependencyWaitStarted(code, waits.size);
        logger.warn({ ...ctx, code, err }, 'a dependency is unavailable; holding the partition and retrying until it is back (readiness is false meanwhile)');
        return;
      }
      w.attempts++;
      w.code = code;
      if (t - w.lastLog >= deps.stillWaitingLogMs) {
        w.lastLog = t;
        logger.warn({ ...ctx, code, err, attempts: w.attempts, waitedMs: t - w.since }, 'still waiting for a dependency');
      }
    },
    recovered(key, ctx) {
      const w = end(key);
      if (w) logger.info({ ...ctx, code: w.code, attempts: w.attempts, waitedMs: now() - w.since }, 'dependency back; the partition resumes');
    },
    abandoned(key, ctx, why) {
      const w = end(key);
      if (w) logger.info({ ...ctx, code: w.code, attempts: w.attempts, waitedMs: now() - w.since }, `stopped waiting for a dependency: ${why}`);
    },
    retain(owned) {
      for (const key of [...waits.keys()]) {
        if (owned.has(key)) continue;
        const w = end(key);
        if (w)
          logger.info(
            { partition: key, code: w.code, attempts: w.attempts, waitedMs: now() - w.since },
            'stopped waiting for a dependency: the partition was revoked',
          );
      }
    },
    current() {
      let oldest: Waiting | null = null;
      for (const w of waits.values()) if (!oldest || w.since < oldest.since) oldest = w;
      return oldest ? { code: oldest.code, since: oldest.since, partitions: [...waits.keys()] } : null;
    },
  };
}
