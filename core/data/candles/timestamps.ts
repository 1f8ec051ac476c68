// Timestamp shapes of the replay files. Date.parse is deliberately not used: it accepts loose
// shapes ("2024-3-1", "March 1 2024", local-time strings) whose meaning depends on the engine and
// the machine's time zone. Every accepted shape is UTC and is checked field by field, and the
// result is converted back to confirm that no field overflowed (2023-02-30, 24:00:00).

/** Earliest accepted open time. Anything earlier is almost certainly seconds read as ms. */
export const MIN_TIMESTAMP_MS = Date.UTC(2000, 0, 1);

export type ParsedTime = { ok: true; ms: number } | { ok: false; reason: string };

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const DATE_TIME_UTC_OFFSET = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\+00:00$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Value of 1-15 ASCII digits, /^\d{1,15}$/ (exact: below 2^53), or -1 for anything else. */
function msDigits(text: string): number {
  const n = text.length;
  if (n === 0 || n > 15) return -1;
  let value = 0;
  for (let i = 0; i < n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

export function parseMsTimestamp(text: string): ParsedTime {
  // Scanned by hand rather than by regex and Number(): this runs for every row of the ms formats.
  const ms = msDigits(text);
  if (ms < 0) return { ok: false, reason: `timestamp "${text}" is not an integer of ms` };
  if (ms < MIN_TIMESTAMP_MS) return { ok: false, reason: `timestamp ${text} is before 2000-01-01 (seconds instead of ms?)` };
  return { ok: true, ms };
}

export function parseUtcDateTime(text: string): ParsedTime {
  return fromFields(DATE_TIME.exec(text), text, 'YYYY-MM-DD HH:MM:SS');
}

export function parseUtcDateTimeWithOffset(text: string): ParsedTime {
  return fromFields(DATE_TIME_UTC_OFFSET.exec(text), text, 'YYYY-MM-DD HH:MM:SS+00:00');
}

export function parseUtcDate(text: string): ParsedTime {
  return fromFields(DATE_ONLY.exec(text), text, 'YYYY-MM-DD');
}

function fromFields(m: RegExpExecArray | null, text: string, shape: string): ParsedTime {
  if (m === null) return { ok: false, reason: `timestamp "${text}" is not ${shape}` };
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number?, number?, number?];
  const ms = Date.UTC(y, mo - 1, d, h ?? 0, mi ?? 0, s ?? 0);
  const back = new Date(ms);
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    back.getUTCHours() !== (h ?? 0) ||
    back.getUTCMinutes() !== (mi ?? 0) ||
    back.getUTCSeconds() !== (s ?? 0)
  ) {
    return { ok: false, reason: `timestamp "${text}" is not a valid UTC time` };
  }
  if (ms < MIN_TIMESTAMP_MS) return { ok: false, reason: `timestamp "${text}" is before 2000-01-01` };
  return { ok: true, ms };
}

/** "YYYY-MM-DD HH:MM:SS" of a ms timestamp, the shape of the merged file's open_time_utc column. */
export function formatUtcDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

const DAY_MS = 86_400_000;

/** Value of the two ASCII digits at `at`, or -1 when either is not a digit. */
function twoDigits(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Whether `text` is exactly formatUtcDateTime(ms), without building that string: the merged
 * file checks this on every row. Compares fields read from the text with the civil date of ms
 * (days-to-civil algorithm of H. Hinnant, proleptic Gregorian, as Date uses). Sub-second ms are
 * ignored, as formatUtcDateTime drops them.
 */
export function matchesUtcDateTime(text: string, ms: number): boolean {
  if (text.length !== 19 || !Number.isFinite(ms) || ms < 0 || ms > 253_402_300_799_999) return text === formatUtcDateTime(ms);
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 32 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58)
    return false;
  const hi = twoDigits(text, 0);
  const lo = twoDigits(text, 2);
  if (hi < 0 || lo < 0) return false;
  const days = Math.floor(ms / DAY_MS);
  const inDay = ms - days * DAY_MS;
  const secs = Math.floor(inDay / 1000);
  if (twoDigits(text, 11) !== Math.floor(secs / 3600) || twoDigits(text, 14) !== Math.floor(secs / 60) % 60 || twoDigits(text, 17) !== secs % 60) return false;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return hi * 100 + lo === year && twoDigits(text, 5) === month && twoDigits(text, 8) === day;
}

/** Largest accepted epoch number of each unit (the year 5138 in that unit): the magnitude picks the unit. */
const EPOCH_UNITS = [
  { unit: 's', below: 1e11, toMs: (v: bigint) => v * 1000n },
  { unit: 'ms', below: 1e14, toMs: (v: bigint) => v },
  { unit: 'us', below: 1e17, toMs: (v: bigint) => v / 1000n },
  { unit: 'ns', below: 1e20, toMs: (v: bigint) => v / 1_000_000n },
] as const;

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A timestamp of the generic CSV layouts (docs/replay-and-polling.md#bring-your-own-candles):
 * - an integer count since 1970-01-01 UTC whose unit follows from its magnitude: below 1e11
 *   seconds, below 1e14 milliseconds, below 1e17 microseconds (Binance spot files since 2025),
 *   below 1e20 nanoseconds; sub-millisecond parts are cut;
 * - "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS[.fff]]" or the same with "T", in UTC unless it ends in
 *   "Z" or an offset ("+02:00", "-0500").
 */
export function parseFlexibleTime(raw: string): ParsedTime {
  const text = raw.trim();
  if (/^\d{1,20}$/.test(text)) {
    const v = BigInt(text);
    const u = EPOCH_UNITS.find((e) => v < BigInt(e.below));
    if (u === undefined) return { ok: false, reason: `timestamp ${text} is too large for s, ms, us or ns since 1970` };
    const ms = Number(u.toMs(v));
    if (ms < MIN_TIMESTAMP_MS) return { ok: false, reason: `timestamp ${text} (read as ${u.unit}) is before 2000-01-01` };
    return { ok: true, ms };
  }
  const m = ISO.exec(text);
  if (m === null) {
    return { ok: false, reason: `timestamp "${text.slice(0, 40)}" is neither a number of s/ms/us since 1970 nor "YYYY-MM-DD[ HH:MM:SS][Z|+HH:MM]"` };
  }
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const local = fromFields([m[0], y, mo, d, h ?? '00', mi ?? '00', s ?? '00'] as unknown as RegExpExecArray, text, 'a valid date and time');
  if (!local.ok) return local;
  let ms = local.ms + (frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000));
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.replace(':', '');
    const oh = Number(digits.slice(1, 3));
    const om = Number(digits.slice(3, 5));
    if (oh > 23 || om > 59) return { ok: false, reason: `timestamp "${text}" has an invalid offset ${zone}` };
    ms -= (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  if (ms < MIN_TIMESTAMP_MS) return { ok: false, reason: `timestamp "${text}" is before 2000-01-01` };
  return { ok: true, ms };
}
