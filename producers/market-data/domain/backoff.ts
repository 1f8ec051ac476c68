// Reconnect and retry delays of the exchange clients: exponential with full jitter (uniform in
// [0, min(max, base*2^n)]), so that many clients dropped at once by an exchange do not reconnect
// in lockstep, and never zero: a tight reconnect loop against a refusing server would spin the
// CPU. `attempt` counts from 0 (the first retry waits up to base).
import { backoffMs } from '../../../core/backoff.js';

export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  return backoffMs({ baseMs, maxMs, jitter: 'full', random, minMs: 1 }, attempt + 1);
}
