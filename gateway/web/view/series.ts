// What the chart's layers share: time in the library's seconds, the options of a series that
// shows no price label, and the test for drawing a change with update() instead of setData().
import type { UTCTimestamp } from 'lightweight-charts';

export function toTime(ms: number): UTCTimestamp {
  return Math.floor(ms / 1000) as UTCTimestamp;
}

/** A series without last-value label, price line or crosshair marker. */
export const QUIET = { lastValueVisible: false, priceLineVisible: false, crosshairMarkerVisible: false } as const;

/**
 * Whether the items from `from` on can go in with update(): the library only takes a time at
 * or after the last one drawn (the same time replaces it). A late record inserted before the
 * last drawn one needs the whole series again.
 */
export function appendable(list: readonly { openTime: number }[], from: number, lastDrawn: number | null): boolean {
  const first = list[from];
  return lastDrawn !== null && first !== undefined && first.openTime >= lastDrawn;
}

/** Runs `update` when the change is appendable; false (nothing half-done left) when it is not or the library refused. */
export function tryUpdate(appendOnly: boolean, update: () => void): boolean {
  if (!appendOnly) return false;
  try {
    update();
    return true;
  } catch {
    return false;
  }
}
