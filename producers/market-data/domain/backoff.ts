// Reconnect and retry delays: exponential with "full jitter" (uniform in [0, min(max, base*2^n)]),
// so that many clients dropped at once by an exchange do not reconnect in lockstep. The random
// source is passed in to keep this pure and testable.
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  // Never zero: a tight reconnect loop against a refusing server would spin the CPU.
  return Math.max(1, Math.min(maxMs, Math.round(exp * random())));
}
