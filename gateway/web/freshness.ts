// Freshness that cannot lie: the state comes from the data time of the last candle against the
// wall clock, never from the connection. live: the last candle closed within two intervals of
// now; replay: older data, but a candle arrived over the WebSocket within the last 10 s (a replay
// is streaming history); stale: neither, for N hours (now minus the last candle's close).
import { formatTime } from './format.js';

export type FreshnessState = 'live' | 'replay' | 'stale';

export const REPLAY_ARRIVAL_MS = 10_000;
const HOUR_MS = 3_600_000;

export interface FreshnessInput {
  /** closeTime of the newest candle of the series, or null when there is none. */
  lastClose: number | null;
  /** Wall time when the last candle arrived over the WebSocket, or null. */
  lastArrival: number | null;
  now: number;
  intervalMs: number;
}

export interface Freshness {
  state: FreshnessState;
  /** Whole hours between the last candle's close and now (0 when live or without data). */
  staleHours: number;
  text: string;
}

export function freshnessOf({ lastClose, lastArrival, now, intervalMs }: FreshnessInput): Freshness {
  const clock = `now ${formatTime(now)}`;
  if (lastClose === null) return { state: 'stale', staleHours: 0, text: `no candle yet · ${clock}` };
  const data = `data ${formatTime(lastClose)}`;
  const age = now - lastClose;
  // A close after the clock plus an interval cannot be live data: a producer's clock (or this one) is wrong.
  if (age < -intervalMs) return { state: 'stale', staleHours: 0, text: `data dated in the future · ${data} · ${clock}` };
  if (age <= 2 * intervalMs) return { state: 'live', staleHours: 0, text: `live · ${data} · ${clock}` };
  const staleHours = Math.max(0, Math.floor(age / HOUR_MS));
  if (lastArrival !== null && now - lastArrival <= REPLAY_ARRIVAL_MS && now >= lastArrival) {
    return { state: 'replay', staleHours, text: `replay · ${data} · ${clock}` };
  }
  // Under an hour (a minute series), hours would read "0 h": say minutes.
  // Past two days, days first ("stale for 412 days (9,888 h)"): 9,888 h alone is hard to read.
  const howLong =
    staleHours >= 48
      ? `${Math.floor(staleHours / 24).toLocaleString('en-US')} days (${staleHours.toLocaleString('en-US')} h)`
      : staleHours >= 1
        ? `${staleHours} h`
        : `${Math.floor(age / 60_000)} min`;
  return { state: 'stale', staleHours, text: `stale for ${howLong} · ${data} · ${clock}` };
}
