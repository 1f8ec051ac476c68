// Connecting at start, retried. A service in a cluster starts before, or while, Kafka, the schema
// registry or Redis are unreachable (a rollout of the brokers, a node drain, DNS not there yet).
// Exiting then puts the pod into CrashLoopBackOff with ever longer pauses and no health endpoint
// to say why; instead the entrypoint starts its health server first (alive, not ready, with the
// reason) and retries each connection step with capped exponential backoff until it succeeds, the
// optional deadline passes, or shutdown begins. Only errors flagged retryable are retried: a wrong
// password, an unknown CA or a bad configuration fail at once, since waiting cannot fix them.
// One-shot CLI commands do not use this: a person at a terminal wants the error now.
import type { Logger } from './logger.js';
import { backoffMs, type BackoffPolicy } from './backoff.js';
import { errorMessage, isBitPredictError } from './errors.js';
import type { Readiness } from './service.js';

/**
 * 1 s after the first failure, doubling to a 30 s cap; half jitter so that the pods of a
 * Deployment restarted together do not knock on the brokers in step.
 */
export const STARTUP_BACKOFF: Omit<BackoffPolicy, 'random'> = { baseMs: 1000, maxMs: 30_000, jitter: 'half' };

export interface StartupRetry {
  /**
   * Runs one connection step until it succeeds. Throws the step's error when it is not retryable
   * or the deadline would pass before the next attempt, and a StartupAborted once abort() was called.
   */
  run<T>(step: string, attempt: () => Promise<T>, dispose?: (value: T) => void): Promise<T>;
  /** Stops retrying: the pending wait (or attempt) ends with StartupAborted. For shutdown while connecting. */
  abort(): void;
  readonly aborted: boolean;
  /** Not ready, with what it is waiting for and the last failure: the /readyz answer while connecting. */
  readiness(): Readiness;
}

/** Thrown by run() after abort(): shutdown began while the service was still connecting. */
export class StartupAborted extends Error {
  constructor(step: string) {
    super(`shutdown while connecting to ${step}`);
    this.name = 'StartupAborted';
  }
}

export interface StartupRetryDeps {
  logger: Logger;
  /** Give up (throw the last error) when the next attempt would start later than this after creation; 0: never. */
  maxMs: number;
  policy?: Omit<BackoffPolicy, 'random'>;
  random?: () => number;
  now?: () => number;
  /** Waits ms or until the signal aborts (then resolves early). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

function describeError(err: unknown): string {
  return isBitPredictError(err) ? `${err.code}: ${err.message}` : errorMessage(err);
}

const seconds = (ms: number): number => Math.round(ms / 100) / 10;

function retryable(err: unknown): boolean {
  return isBitPredictError(err) && err.retryable;
}

export function createStartupRetry(deps: StartupRetryDeps): StartupRetry {
  const log = deps.logger.child({ component: 'startup' });
  const policy: BackoffPolicy = { ...(deps.policy ?? STARTUP_BACKOFF), random: deps.random ?? Math.random };
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const startedAt = now();
  const abortController = new AbortController();
  // What /readyz says while connecting: the step, the attempt, the last failure and the wait.
  let state = { step: 'starting', attempt: 0, lastError: null as string | null, nextDelayMs: null as number | null };

  // An attempt in flight may take a while to fail (the Kafka client retries inside it); shutdown
  // does not wait for it. Its own timeouts end it, and nothing uses its result.
  const untilAborted = new Promise<'aborted'>((resolve) => abortController.signal.addEventListener('abort', () => resolve('aborted'), { once: true }));

  return {
    async run<T>(step: string, attempt: () => Promise<T>, dispose?: (value: T) => void): Promise<T> {
      for (let failures = 0; ;) {
        if (abortController.signal.aborted) throw new StartupAborted(step);
        state = { step, attempt: failures + 1, lastError: failures > 0 ? state.lastError : null, nextDelayMs: null };
        const pending = attempt();
        let outcome: { ok: true; value: T } | { ok: false; err: unknown } | 'aborted';
        try {
          outcome = await Promise.race([pending.then((value) => ({ ok: true as const, value })), untilAborted]);
        } catch (err) {
          outcome = { ok: false, err };
        }
        if (outcome === 'aborted') {
          // Nobody uses the attempt any more: a late success is released (an open Redis client
          // would keep the process alive), a late failure is dropped.
          pending.then(
            (value) => dispose?.(value),
            () => {},
          );
          throw new StartupAborted(step);
        }
        if (outcome.ok) {
          if (failures > 0) log.info({ step, attempts: failures + 1 }, 'connected after retrying');
          return outcome.value;
        }
        const err = outcome.err;
        if (!retryable(err)) throw err;
        failures += 1;
        const delayMs = backoffMs(policy, failures);
        const elapsedMs = now() - startedAt;
        if (deps.maxMs > 0 && elapsedMs + delayMs > deps.maxMs) {
          log.error({ step, attempts: failures, elapsedMs, maxMs: deps.maxMs, err }, 'still cannot connect; giving up (BITPREDICT_STARTUP_RETRY_MAX_MS)');
          throw err;
        }
        state = { step, attempt: failures, lastError: describeError(err), nextDelayMs: delayMs };
        log.warn(
          { step, attempt: failures, nextDelayMs: delayMs, code: isBitPredictError(err) ? err.code : undefined, reason: errorMessage(err) },
          `cannot connect to ${step}; retrying in ${seconds(delayMs)} s`,
        );
        await sleep(delayMs, abortController.signal);
      }
    },
    abort() {
      abortController.abort();
    },
    get aborted() {
      return abortController.signal.aborted;
    },
    readiness(): Readiness {
      const { step, attempt, lastError, nextDelayMs } = state;
      if (lastError === null) return { ready: false, checks: { startup: `connecting to ${step}` } };
      const progress = nextDelayMs === null ? `attempt ${attempt} in progress` : `attempt ${attempt} failed; next in ${seconds(nextDelayMs)} s`;
      return { ready: false, checks: { startup: `connecting to ${step}: ${progress}`, lastError } };
    },
  };
}
