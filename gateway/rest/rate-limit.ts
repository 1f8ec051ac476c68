// Token buckets keyed by API key id or client address, for the REST rate limit (gateway/app.ts).
// The same arithmetic as a WebSocket client's bucket (gateway/stream/client.ts takeToken): `rate`
// tokens a second, `burst` at most. Pure: the caller passes the time, so tests need no clock.
//
// Memory is bounded: one entry per caller seen, and past `maxEntries` the entries whose buckets
// have refilled (callers that went quiet: forgetting them changes nothing) are dropped, then the
// oldest. A flood of new addresses therefore costs at most `maxEntries` small objects.

export interface RateLimiterOptions {
  /** Requests per second on average. */
  rate: number;
  /** Requests at once (the bucket's size). */
  burst: number;
  /** Callers remembered at most (default 10,000). */
  maxEntries?: number;
}

export interface RateLimiter {
  /** 0 when `id` may make one more request at `now` (ms), else the seconds until it may (at least 1). */
  take(id: string, now: number): number;
  /** Callers currently remembered. */
  size(): number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const { rate, burst } = opts;
  const maxEntries = opts.maxEntries ?? 10_000;
  const buckets = new Map<string, Bucket>();

  function refill(b: Bucket, now: number): void {
    b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) * rate) / 1000);
    b.at = now;
  }

  function prune(now: number): void {
    for (const [id, b] of buckets) {
      refill(b, now);
      if (b.tokens >= burst) buckets.delete(id);
    }
    // Everyone is busy: drop the oldest entries (Map order is insertion order).
    for (const id of buckets.keys()) {
      if (buckets.size < maxEntries) break;
      buckets.delete(id);
    }
  }

  return {
    take(id, now) {
      let b = buckets.get(id);
      if (!b) {
        if (buckets.size >= maxEntries) prune(now);
        b = { tokens: burst, at: now };
        buckets.set(id, b);
      } else refill(b, now);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / rate));
    },
    size: () => buckets.size,
  };
}
