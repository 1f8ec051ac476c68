// HTTP facts shared by every producer that talks to an upstream API (exchanges, feed hosts, X,
// the polling source).

/**
 * The delay an HTTP Retry-After header asks for, in ms from `nowMs`: delta-seconds or an HTTP
 * date (a date in the past means "now", 0). Null when the header is absent, empty or unreadable.
 */
export function retryAfterMs(header: string | null, nowMs: number): number | null {
  if (header === null || header.trim() === '') return null;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}
