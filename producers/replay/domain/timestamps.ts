// Timestamp shapes of the replay files. Date.parse is deliberately not used: it accepts loose
// shapes ("2024-3-1", "March 1 2024", local-time strings) whose meaning depends on the engine and
// the machine's time zone. Every accepted shape is UTC and is checked field by field, and the
// result is converted back to confirm that no field overflowed (2023-02-30, 24:00:00).

/** Earliest accepted open time. Anything earlier is almost certainly seconds read as ms. */
export const MIN_TIMESTAMP_MS = Date.UTC(2000, 0, 1);

export type ParsedTime = { ok: true; ms: number } | { ok: false; reason: string };

const MS_INTEGER = /^\d{1,15}$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const DATE_TIME_UTC_OFFSET = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\+00:00$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

export function parseMsTimestamp(text: string): ParsedTime {
  if (!MS_INTEGER.test(text)) return { ok: false, reason: `timestamp "${text}" is not an integer of ms` };
  const ms = Number(text);
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
    back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d ||
    back.getUTCHours() !== (h ?? 0) || back.getUTCMinutes() !== (mi ?? 0) || back.getUTCSeconds() !== (s ?? 0)
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
