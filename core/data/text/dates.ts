// Publication times as feeds write them. Only unambiguous forms are accepted: RFC 822/1123 (as RSS
// uses it, with named or numeric zones, optional weekday and seconds, two- or four-digit years) and
// RFC 3339 / ISO 8601 date-times with a zone (seconds and fractions optional). A time without a
// zone, a date without a time, or an impossible date is rejected rather than guessed, because a
// wrong event time would leak into point-in-time sentiment joins.

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

// Offsets in minutes east of UTC, for the zone names RFC 822 defines plus the common extras.
const ZONES: Record<string, number> = {
  UT: 0,
  UTC: 0,
  GMT: 0,
  Z: 0,
  EST: -300,
  EDT: -240,
  CST: -360,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
  BST: 60,
  CET: 60,
  CEST: 120,
  EET: 120,
  EEST: 180,
  JST: 540,
  IST: 330,
  AEST: 600,
  AEDT: 660,
};

export type DateResult = { ok: true; ms: number } | { ok: false; reason: string };

function build(y: number, mo: number, d: number, h: number, mi: number, s: number, frac: number, offsetMin: number): DateResult {
  if (mo < 0 || mo > 11 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return { ok: false, reason: 'date or time field out of range' };
  const ms = Date.UTC(y, mo, d, h, mi, Math.min(s, 59), frac) - offsetMin * 60_000;
  const check = new Date(Date.UTC(y, mo, d));
  // Date.UTC rolls 31 Feb over into March; the round trip catches it.
  if (check.getUTCMonth() !== mo || check.getUTCDate() !== d) return { ok: false, reason: 'no such day in that month' };
  if (!Number.isFinite(ms)) return { ok: false, reason: 'date out of range' };
  return { ok: true, ms };
}

function numericOffset(sign: string, hh: string, mm: string): number {
  const v = Number(hh) * 60 + Number(mm);
  return sign === '-' ? -v : v;
}

const RFC822 =
  /^(?:[A-Za-z]{3,9},?\s+)?(\d{1,2})\s+([A-Za-z]{3,9})\.?\s+(\d{2}|\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([+-])(\d{2}):?(\d{2})|([A-Za-z]{1,5}))$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

export function parseFeedDate(input: string | null | undefined): DateResult {
  if (input === null || input === undefined) return { ok: false, reason: 'missing date' };
  const text = input.trim().replace(/\s+/g, ' ');
  if (text === '') return { ok: false, reason: 'missing date' };
  if (text.length > 64) return { ok: false, reason: 'date text too long' };
  const iso = ISO.exec(text);
  if (iso) {
    const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = iso;
    const offset = z ? 0 : numericOffset(sign ?? '+', oh ?? '0', om ?? '0');
    const fracMs = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
    return build(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? '0'), fracMs, offset);
  }
  const rfc = RFC822.exec(text);
  if (rfc) {
    const [, d, monName, yText, h, mi, s, sign, oh, om, zoneName] = rfc;
    const mo = MONTHS[(monName ?? '').slice(0, 3).toLowerCase()];
    if (mo === undefined) return { ok: false, reason: `unknown month "${monName}"` };
    let offset: number;
    if (zoneName !== undefined) {
      const z = ZONES[zoneName.toUpperCase()];
      if (z === undefined) return { ok: false, reason: `unknown time zone "${zoneName}"` };
      offset = z;
    } else offset = numericOffset(sign ?? '+', oh ?? '0', om ?? '0');
    let y = Number(yText);
    // RFC 822 two-digit years; RFC 2822 section 4.3 maps 00-49 to 20xx and 50-99 to 19xx.
    if ((yText ?? '').length === 2) y += y < 50 ? 2000 : 1900;
    return build(y, mo, Number(d), Number(h), Number(mi), Number(s ?? '0'), 0, offset);
  }
  if (/^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.test(text)) return { ok: false, reason: `date "${text}" has no time zone` };
  return { ok: false, reason: `unrecognised date "${text.slice(0, 64)}"` };
}

/** Twitter's classic format, as in the tweets CSV: "Fri Aug 15 23:40:12 +0000 2025". */
export function parseTwitterDate(input: string): DateResult {
  const m = /^[A-Za-z]{3} ([A-Za-z]{3}) (\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}) (\d{4})$/.exec(input.trim());
  if (!m) return { ok: false, reason: `unrecognised date "${input.slice(0, 64)}"` };
  const [, monName, d, h, mi, s, sign, oh, om, y] = m;
  const mo = MONTHS[(monName ?? '').toLowerCase()];
  if (mo === undefined) return { ok: false, reason: `unknown month "${monName}"` };
  return build(Number(y), mo, Number(d), Number(h), Number(mi), Number(s), 0, numericOffset(sign ?? '+', oh ?? '0', om ?? '0'));
}

/** The news CSV's day-first "D-M-YYYY HH:MM", taken as UTC (see data README 2b). */
export function parseDayFirstUtc(input: string): DateResult {
  const m = /^(\d{1,2})-(\d{1,2})-(\d{4}) (\d{1,2}):(\d{2})$/.exec(input.trim());
  if (!m) return { ok: false, reason: `unrecognised date "${input.slice(0, 64)}"` };
  const [, d, mo, y, h, mi] = m;
  return build(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), 0, 0, 0);
}

/**
 * "YYYY-MM-DD HH:MM[:SS]" without a zone, taken as UTC: the Date columns of the news descriptions
 * and CoinDesk headline CSVs (data README 2c/2d). Only for files whose README states or implies
 * UTC; a feed date without a zone still goes through parseFeedDate, which refuses it.
 */
export function parseUtcDateTime(input: string): DateResult {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$/.exec(input.trim());
  if (!m) return { ok: false, reason: `unrecognised date "${input.slice(0, 64)}"` };
  const [, y, mo, d, h, mi, s] = m;
  return build(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? '0'), 0, 0);
}
