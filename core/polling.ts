// The skeleton shared by the services that poll upstream sources (news feeds, X recent search, the
// REST candle poller). start() seeds what the sources remember from the tail of the output topic,
// once, then runs rounds on a schedule until stop(); rounds and direct polls never overlap, so a
// source's state has one writer; each source keeps its failures, next due time and last result,
// and a failure pushes its next poll out by the service's backoff. What a round polls and when the
// next one is due stay with the service: the three sources schedule differently (per feed, per
// rate-limit window, per period).
import type { Readiness } from './service.js';
import { delay } from './time.js';

/** What the skeleton keeps per source; a service's source state extends it with its own memory. */
export interface SourceState<R extends string = string> {
  /** Consecutive failed polls; 0 after a success. */
  failures: number;
  /** Time (on the poller's clock) before which the source is not polled again; 0: due now. */
  nextAt: number;
  lastResult: R | null;
}

export interface PollerDeps {
  /** The scheduling clock that nextAt is read against. */
  now(): number;
  /** Wait after `failures` consecutive failures; `serverWaitMs` is a wait the source asked for (Retry-After). */
  backoff(failures: number, serverWaitMs: number | null): number;
  /** Reads the sources' memory from the tail of the output topic. Runs once, before any round. */
  seed?(): Promise<void>;
  /** Runs once after seeding, before the first scheduled round (a start log line, gauges). */
  onStart?(): void;
  /** One scheduled round: polls what is due and resolves to the wait (ms) before the next round. */
  round(): Promise<number>;
  /** A scheduled round threw: returns the wait before the next round, or calls halt() to give up. */
  onRoundError(err: unknown): number;
  /** Run rounds on the schedule after start() (default true); false leaves polling to direct calls. */
  schedule?: boolean;
}

export interface Poller {
  /** Seeds, then runs the schedule. Idempotent: a second call waits for the first. */
  start(): Promise<void>;
  /** Seeds once, however often it is called (direct polls call it too). */
  seed(): Promise<void>;
  /** Ends the schedule, cuts the wait short, aborts `signal` and waits for the round in progress. Idempotent. */
  stop(): Promise<void>;
  /** Ends the schedule from inside a round's error handler (a fatal error): no more rounds, unready. */
  halt(): void;
  /** Runs `task` after every round and task queued before it has finished. */
  exclusive<T>(task: () => Promise<T>): Promise<T>;
  /** Counts a failed poll and schedules the source's retry by the backoff; returns the wait (ms). */
  failed<R extends string>(source: SourceState<R>, result: R, serverWaitMs?: number | null): number;
  /** Records a successful poll; `nextAt` (when given) is when the source is due again. */
  succeeded<R extends string>(source: SourceState<R>, result: R, nextAt?: number): void;
  readonly stopped: boolean;
  /** Aborted by stop(): for requests that a stop should cut short. */
  readonly signal: AbortSignal;
  /** Ready from the end of seeding until stop. Upstream trouble belongs in `checks`, not in unreadiness: a restart cannot fix a source. */
  readiness(checks: Record<string, string>): Readiness;
}

export function createPoller(deps: PollerDeps): Poller {
  const abort = new AbortController();
  let seeded: Promise<void> | null = null;
  let starting: Promise<void> | null = null;
  let started = false;
  let stopped = false;
  let loop: Promise<void> | null = null;
  let queue: Promise<unknown> = Promise.resolve();

  function exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  }

  function seed(): Promise<void> {
    seeded ??= deps.seed ? deps.seed() : Promise.resolve();
    return seeded;
  }

  async function run(): Promise<void> {
    while (!stopped) {
      let wait: number;
      try {
        // A round queued behind a direct poll may come due after stop(): it then polls nothing.
        wait = await exclusive(async () => (stopped ? 0 : deps.round()));
      } catch (err) {
        wait = deps.onRoundError(err);
      }
      if (stopped) return;
      // A round due at once still yields to I/O first, so an always-due source cannot starve the process.
      if (wait <= 0) await new Promise<void>((resolve) => setImmediate(resolve));
      else await delay(wait, abort.signal);
    }
  }

  async function begin(): Promise<void> {
    await seed();
    deps.onStart?.();
    started = true;
    if (deps.schedule ?? true) loop = run();
  }

  return {
    start() {
      starting ??= begin();
      return starting;
    },
    seed,
    async stop() {
      stopped = true;
      abort.abort();
      if (loop) await loop;
    },
    halt() {
      stopped = true;
    },
    exclusive,
    failed(source, result, serverWaitMs = null) {
      source.failures++;
      source.lastResult = result;
      const wait = deps.backoff(source.failures, serverWaitMs);
      source.nextAt = deps.now() + wait;
      return wait;
    },
    succeeded(source, result, nextAt) {
      source.failures = 0;
      source.lastResult = result;
      if (nextAt !== undefined) source.nextAt = nextAt;
    },
    get stopped() {
      return stopped;
    },
    signal: abort.signal,
    readiness(checks) {
      return { ready: started && !stopped, checks };
    },
  };
}
