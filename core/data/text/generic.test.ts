// Generic text CSVs (--text-file): columns found by name or given, times in ms / s / ISO, and every
// bad row (malformed quotes, truncated, oversized, duplicated, future-dated, out of order) reported
// with its line, never dropped unseen. Fixtures: test/fixtures/text/ (hand-typed).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findTextColumns, mapGenericTextCsv, parseTextColumns, parseTextTime } from './generic.js';
import { loadTextsFromFiles } from '../load.js';
import { MAX_TEXT_CHARS } from './ids.js';
import { BitPredictError } from '../../errors.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/fixtures/text');
const BAD = join(FIXTURES, 'generic-bad-rows.csv');
const NAMED = join(FIXTURES, 'named-columns.csv');
const NOW = Date.UTC(2026, 0, 1);
const opts = { now: NOW, futureToleranceMs: 60_000 };

describe('generic text CSV', () => {
  it('maps the good rows in time order, drops the repeated id once and reports every bad row with its line', () => {
    const m = mapGenericTextCsv(readFileSync(BAD, 'utf8'), 'replay:generic-bad-rows.csv', opts);
    expect(m.columns).toEqual({ time: 'created_at', text: 'body', source: 'site', id: 'id' });
    expect(m.drafts.map((d) => [d.sourceId, new Date(d.publishedAt).toISOString(), d.text, d.author])).toEqual([
      ['3', '2024-09-26T09:00:00.000Z', 'ETF inflows slow', 'reuters'], // epoch s, out of order in the file
      ['1', '2024-09-26T10:00:00.000Z', 'Bitcoin rallies past resistance', 'coindesk'],
      ['2', '2024-09-26T11:00:00.000Z', 'Miners sell as fees drop', 'theblock'], // epoch ms
      ['8', '2024-09-26T13:30:00.000Z', 'Quoted, with a comma', 'y'], // +02:00
    ]);
    expect(m.duplicates).toBe(1);
    expect(m.dead.map((d) => [d.line, d.reason.replace(/:.*/s, '')])).toEqual([
      [6, 'created_at 2099-01-01T00'], // future-dated: excluded, reported
      [7, 'bad created_at'],
      [8, 'empty body'],
      [9, 'row has 2 fields, header has 4'], // truncated
      [11, 'unparseable row'], // the unclosed quote
    ]);
    expect(m.dead[0]?.reason).toBe('created_at 2099-01-01T00:00:00.000Z is in the future (excluded)');
    expect(m.dead[4]?.reason).toMatch(/unparseable row: .*[Qq]uote/);
    // Every row of the file is accounted for: texts + duplicates + dead.
    expect(m.rows).toBe(10);
    expect(m.drafts.length + m.duplicates + m.dead.length).toBe(m.rows);
  });

  it('an oversized text is a dead row with its line, not cut silently', () => {
    const big = 'x'.repeat(MAX_TEXT_CHARS + 1);
    const m = mapGenericTextCsv(`time,text\n2024-09-26T10:00:00Z,short\n2024-09-26T11:00:00Z,${big}\n`, 'replay:big.csv', opts);
    expect(m.drafts).toHaveLength(1);
    expect(m.dead).toEqual([
      { line: 3, raw: `2024-09-26T11:00:00Z,${big}`, reason: `text has ${MAX_TEXT_CHARS + 1} characters, over the ${MAX_TEXT_CHARS} a text may have` },
    ]);
  });

  it('takes columns given by role, and semicolon files', () => {
    const m = mapGenericTextCsv(readFileSync(NAMED, 'utf8'), 'replay:named-columns.csv', {
      ...opts,
      columns: parseTextColumns('time=when,text=words,source=outlet'),
    });
    expect(m.columns).toEqual({ time: 'when', text: 'words', source: 'outlet' });
    expect(m.drafts.map((d) => d.text)).toEqual(['Exchange outflows rise', 'Funding turns negative']);
    expect(m.dead).toEqual([]);
    // Without them, the header names no time or text column: the error says how to name them.
    expect(() => mapGenericTextCsv(readFileSync(NAMED, 'utf8'), 'replay:x', opts)).toThrow(
      /no time or text column in the header \(when, words, outlet\): name it with --text-columns time=<column>,text=<column>/,
    );
    expect(() => findTextColumns(['when', 'words'], { time: 'when', text: 'body' })).toThrow(/the text column "body" is not in the header \(when, words\)/);
  });

  it('parses --text-columns strictly', () => {
    expect(parseTextColumns('time=created_at, text=body ,source=site')).toEqual({ time: 'created_at', text: 'body', source: 'site' });
    expect(() => parseTextColumns('time')).toThrow(/"time" is not role=column/);
    expect(() => parseTextColumns('when=x')).toThrow(/"when" is not a column role/);
    expect(() => parseTextColumns('time=a,time=b')).toThrow(/time is given twice/);
  });

  it('reads epoch ms, epoch s and ISO times (UTC without a zone) and refuses the rest', () => {
    expect(parseTextTime('1727341200')).toEqual({ ok: true, ms: 1727341200000 });
    expect(parseTextTime('1727341200.5')).toEqual({ ok: true, ms: 1727341200500 });
    expect(parseTextTime('1727341200000')).toEqual({ ok: true, ms: 1727341200000 });
    expect(parseTextTime('2024-09-26')).toEqual({ ok: true, ms: Date.UTC(2024, 8, 26) });
    expect(parseTextTime('2024-09-26 09:00')).toEqual({ ok: true, ms: Date.UTC(2024, 8, 26, 9) });
    expect(parseTextTime('2024-09-26T09:00:00.250-0100')).toEqual({ ok: true, ms: Date.UTC(2024, 8, 26, 10, 0, 0, 250) });
    for (const bad of ['', '12', '2024-02-31', '26/09/2024', 'yesterday', '99999999999999999']) expect(parseTextTime(bad).ok).toBe(false);
  });

  it('loadTextsFromFiles reads a generic file beside the known layouts and says so in its report; a header it cannot place fails naming the file', () => {
    const rows: { line: number; reason: string }[] = [];
    const { texts, files } = loadTextsFromFiles('/nonexistent-data-dir', [BAD], { now: () => NOW, onDeadRow: (r) => rows.push(r) });
    expect(texts).toHaveLength(4);
    expect(files[0]).toMatchObject({ file: BAD, format: 'generic', rows: 10, texts: 4, dead: 5, duplicates: 1, columns: { time: 'created_at', text: 'body' } });
    expect(rows.map((r) => r.line)).toEqual([6, 7, 8, 9, 11]);
    const dir = mkdtempSync(join(tmpdir(), 'bp-generic-'));
    writeFileSync(join(dir, 'odd.csv'), 'a,b\n1,2\n');
    let err: unknown;
    try {
      loadTextsFromFiles(dir, ['odd.csv']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BitPredictError);
    expect((err as BitPredictError).code).toBe('ERR_REPLAY_FILE');
    expect((err as BitPredictError).message).toMatch(/odd\.csv: no time or text column .*; the header is none of the tweets CSV/);
    writeFileSync(join(dir, 'empty.csv'), '');
    expect(() => loadTextsFromFiles(dir, ['empty.csv'])).toThrow(/empty\.csv: empty file: no header line/);
  });
});
