import { describe, expect, it } from 'vitest';
import { MIN_TIMESTAMP_MS, formatUtcDateTime, matchesUtcDateTime, parseMsTimestamp } from './timestamps.js';

describe('matchesUtcDateTime', () => {
  it('agrees with formatUtcDateTime on every hour of 2000-2030 and on leap days and year ends', () => {
    const start = Date.UTC(2000, 0, 1);
    const end = Date.UTC(2031, 0, 1);
    let checked = 0;
    const disagreements: string[] = [];
    for (let ms = start; ms < end; ms += 3_600_000 + 61_000) {
      const text = formatUtcDateTime(ms);
      if (!matchesUtcDateTime(text, ms)) disagreements.push(text);
      // One second off must not match either.
      if (matchesUtcDateTime(text, ms + 1000)) disagreements.push(`${text} +1s`);
      checked++;
    }
    expect(disagreements).toEqual([]);
    expect(checked).toBeGreaterThan(200_000);
    for (const ms of [Date.UTC(2000, 1, 29), Date.UTC(2024, 1, 29, 23, 59, 59), Date.UTC(2100, 2, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999), 0]) {
      expect(matchesUtcDateTime(formatUtcDateTime(ms), ms)).toBe(true);
    }
  });

  it('rejects a text one field off, a wrong shape, an impossible date or a different instant', () => {
    const ms = Date.UTC(2024, 2, 1, 13, 0, 0);
    expect(matchesUtcDateTime('2024-03-01 13:00:00', ms)).toBe(true);
    expect(matchesUtcDateTime('2024-03-01 13:00:00', ms + 999)).toBe(true);
    for (const text of [
      '2024-03-01 13:00:01',
      '2024-03-01 14:00:00',
      '2024-03-02 13:00:00',
      '2024-04-01 13:00:00',
      '2023-03-01 13:00:00',
      '2024-02-30 13:00:00',
      '2024-03-01T13:00:00',
      '2024/03/01 13:00:00',
      '2024-03-01 13:00',
      '2024-03-01 13:00:00Z',
      ' 2024-03-01 13:00:0',
      '2O24-03-01 13:00:00',
      '',
      '2024-03-01 13:00:0x',
    ]) {
      expect(matchesUtcDateTime(text, ms)).toBe(formatUtcDateTime(ms) === text);
      expect(matchesUtcDateTime(text, ms)).toBe(false);
    }
    expect(matchesUtcDateTime('2024-03-01 13:00:00', ms + 1000)).toBe(false);
  });

  it('falls back to the formatted string beyond year 9999', () => {
    const ms = 999_999_999_999_999;
    expect(matchesUtcDateTime(formatUtcDateTime(ms), ms)).toBe(true);
    expect(matchesUtcDateTime('9999-12-31 23:59:59', ms)).toBe(false);
  });
});

describe('parseMsTimestamp', () => {
  it('accepts exactly 1-15 ASCII digits and reads them as Number() does', () => {
    const samples = [
      '',
      '0',
      '1704067200000',
      '01704067200000',
      '999999999999999',
      '1000000000000000',
      '1704067200000.0',
      '1.7e12',
      ' 1704067200000',
      '1704067200000 ',
      '-1704067200000',
      '+1704067200000',
      '0x1',
      '١٧٠٤٠٦٧٢٠٠٠٠٠',
      'abc',
    ];
    for (const text of samples) {
      const t = parseMsTimestamp(text);
      const shape = /^\d{1,15}$/.test(text);
      if (!shape) expect(t).toEqual({ ok: false, reason: `timestamp "${text}" is not an integer of ms` });
      else if (Number(text) < MIN_TIMESTAMP_MS) expect(t).toEqual({ ok: false, reason: `timestamp ${text} is before 2000-01-01 (seconds instead of ms?)` });
      else expect(t).toEqual({ ok: true, ms: Number(text) });
    }
    expect(parseMsTimestamp('1704067200000')).toEqual({ ok: true, ms: Date.UTC(2024, 0, 1) });
    expect(parseMsTimestamp('1704067200').ok).toBe(false);
  });
});
