// Retry delays after consecutive failures, for every producer that talks to an upstream (exchange
// sockets and REST, the candle poller, news feeds, X). One formula with a few parameters, so the
// policies differ only where they mean to: the base doubles per failure up to a cap, jitter (when
// several clients must not retry in step) comes off that, and a wait the server asked for wins
// when it is longer. Pure: the random source is passed in.

export interface BackoffPolicy {
  /** Delay after the first failure, before jitter. */
  baseMs: number;
  /** Cap of the doubled delay, before jitter. A wait the server asks for is not capped. */
  maxMs: number;
  /** Doublings stop after this many (base x 2^maxDoublings at most). Default 30. */
  maxDoublings?: number;
  /**
   * none: the capped delay itself. full: uniform in [0, delay], so that many clients dropped at
   * once spread out. half: takes off up to half, spreading retries while keeping most of the wait.
   */
  jitter?: 'none' | 'full' | 'half';
  /** Source of jitter in [0, 1); called once per delay when jitter is not none. */
  random?: () => number;
  /** Floor of the result, when set (a zero delay would spin against a refusing server). */
  minMs?: number;
}

const DEFAULT_MAX_DOUBLINGS = 30;

/**
 * Delay before the next attempt after `failures` consecutive failures (1 = the first):
 * min(maxMs, baseMs x 2^min(failures - 1, maxDoublings)), jittered, then raised to `minMs` and to
 * `serverWaitMs` (Retry-After, a rate-limit reset) when those are longer.
 */
export function backoffMs(policy: BackoffPolicy, failures: number, serverWaitMs: number | null = null): number {
  const doublings = Math.min(Math.max(failures - 1, 0), policy.maxDoublings ?? DEFAULT_MAX_DOUBLINGS);
  const capped = Math.min(policy.maxMs, policy.baseMs * 2 ** doublings);
  let delay = jittered(policy, capped);
  if (policy.minMs !== undefined) delay = Math.max(delay, policy.minMs);
  if (serverWaitMs !== null) delay = Math.max(delay, serverWaitMs);
  return delay;
}

function jittered(policy: BackoffPolicy, capped: number): number {
  const jitter = policy.jitter ?? 'none';
  if (jitter === 'none') return capped;
  if (!policy.random) throw new TypeError(`backoff: ${jitter} jitter needs a random source`);
  const r = policy.random();
  if (jitter === 'full') return Math.min(policy.maxMs, Math.round(capped * r));
  // Clamped so that a draw outside [0, 1) still takes off between nothing and just under half.
  return Math.round(capped * (1 - 0.5 * Math.min(Math.max(r, 0), 0.999)));
}
