// The two real text files (data README 2a/2b) -> drafts in publication order. Rows that cannot be
// mapped come back with their raw text and 1-based starting line for the DLQ; nothing is guessed.
import { parse } from 'csv-parse/sync';
import { parseDayFirstUtc, parseTwitterDate } from './dates.js';
import { MAX_FIELD_CHARS, canonicalUrl, capText, textId } from './ids.js';
import type { TextDraft } from './draft.js';

export type TextFileFormat = 'tweets' | 'news';

export interface DeadRow {
  line: number;
  raw: string;
  reason: string;
}

export interface CsvMapping {
  drafts: TextDraft[];
  dead: DeadRow[];
  duplicates: number;
  rows: number;
}

const TWEET_COLUMNS = ['id', 'text', 'user', 'created_at'];
const NEWS_COLUMNS = ['date', 'text', 'title', 'url'];

export function detectTextFormat(header: string): TextFileFormat | null {
  const h = header.replace(/^\uFEFF/, '').trim();
  if (h.includes(';') && NEWS_COLUMNS.every((c) => h.split(';').includes(c))) return 'news';
  if (TWEET_COLUMNS.every((c) => h.split(',').includes(c))) return 'tweets';
  return null;
}

interface Row {
  record: string[];
  raw: string;
  line: number;
}

function rows(content: string, delimiter: string, dead: DeadRow[]): { header: string[]; rows: Row[] } {
  const out: Row[] = [];
  let header: string[] | null = null;
  const records = parse(content.replace(/^\uFEFF/, ''), {
    delimiter,
    relax_column_count: true,
    raw: true,
    info: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (err, raw) => {
      dead.push({ line: (err as { lines?: number } | undefined)?.lines ?? 0, raw: raw ?? '', reason: `unparseable row: ${err?.message ?? 'unknown error'}` });
      return undefined;
    },
  }) as unknown as { record: string[]; raw: string; info: { lines: number } }[];
  for (const r of records) {
    const body = r.raw.replace(/\r?\n$/, '');
    // info.lines is the line a record ends on; quoted fields span lines, so the start is counted back.
    const start = r.info.lines - (body.match(/\n/g) ?? []).length;
    if (header === null) {
      header = r.record;
      continue;
    }
    out.push({ record: r.record, raw: body, line: start });
  }
  return { header: header ?? [], rows: out };
}

function columnIndex(header: string[], names: string[]): Map<string, number> | null {
  const m = new Map<string, number>();
  for (const n of names) {
    const i = header.indexOf(n);
    if (i < 0) return null;
    m.set(n, i);
  }
  return m;
}

/** Sorted by publishedAt; ties keep file order (Array.prototype.sort is stable). */
function sortAndDedupe(drafts: TextDraft[]): { drafts: TextDraft[]; duplicates: number } {
  drafts.sort((a, b) => a.publishedAt - b.publishedAt);
  const seen = new Set<string>();
  const out: TextDraft[] = [];
  for (const d of drafts) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    out.push(d);
  }
  return { drafts: out, duplicates: drafts.length - out.length };
}

export function mapTextCsv(content: string, format: TextFileFormat, source: string, opts: { now: number; futureToleranceMs: number }): CsvMapping {
  const dead: DeadRow[] = [];
  const parsed = rows(content, format === 'news' ? ';' : ',', dead);
  const cols = columnIndex(parsed.header, format === 'news' ? NEWS_COLUMNS : TWEET_COLUMNS);
  if (cols === null) throw new Error(`header lacks the ${format} columns (${(format === 'news' ? NEWS_COLUMNS : TWEET_COLUMNS).join(', ')})`);
  const col = (r: string[], name: string): string => r[cols.get(name) ?? -1] ?? '';
  const drafts: TextDraft[] = [];
  for (const row of parsed.rows) {
    const fail = (reason: string): void => {
      dead.push({ line: row.line, raw: row.raw, reason });
    };
    if (row.record.length !== parsed.header.length) {
      fail(`row has ${row.record.length} fields, header has ${parsed.header.length}`);
      continue;
    }
    if (format === 'tweets') {
      const id = col(row.record, 'id').trim();
      if (!/^\d{1,20}$/.test(id)) {
        fail(`bad tweet id "${id.slice(0, 40)}"`);
        continue;
      }
      const date = parseTwitterDate(col(row.record, 'created_at'));
      if (!date.ok) {
        fail(`bad created_at: ${date.reason}`);
        continue;
      }
      if (date.ms > opts.now + opts.futureToleranceMs) {
        fail('created_at is in the future');
        continue;
      }
      const text = col(row.record, 'text');
      if (text.trim() === '') {
        fail('empty text');
        continue;
      }
      const user = col(row.record, 'user').trim();
      drafts.push({
        id: textId(source, id),
        source,
        sourceId: id,
        kind: 'tweet',
        publishedAt: date.ms,
        title: null,
        text: capText(text),
        url: user ? `https://x.com/${user}/status/${id}` : `https://x.com/i/web/status/${id}`,
        author: user ? capText(user, MAX_FIELD_CHARS) : null,
      });
    } else {
      const date = parseDayFirstUtc(col(row.record, 'date'));
      if (!date.ok) {
        fail(`bad date: ${date.reason}`);
        continue;
      }
      if (date.ms > opts.now + opts.futureToleranceMs) {
        fail('date is in the future');
        continue;
      }
      const rawUrl = col(row.record, 'url').trim();
      const url = rawUrl === '' ? null : canonicalUrl(rawUrl);
      if (rawUrl !== '' && url === null) {
        fail(`bad url "${rawUrl.slice(0, 100)}"`);
        continue;
      }
      const title = col(row.record, 'title').trim();
      const text = col(row.record, 'text').trim();
      if (title === '' && text === '') {
        fail('neither title nor text');
        continue;
      }
      // The file's 59 "repeated URLs" are 60 rows with an empty url, all different articles; those
      // get a content-derived id (date, title, text) instead of collapsing into one.
      const sourceId = url ?? `nourl:${textId('content', `${col(row.record, 'date')}\u0000${title}\u0000${text}`)}`;
      const site = col(row.record, 'source').trim();
      drafts.push({
        id: textId(source, sourceId),
        source,
        sourceId,
        kind: 'news',
        publishedAt: date.ms,
        title: title === '' ? null : capText(title, MAX_FIELD_CHARS),
        text: capText(text === '' ? title : text),
        url,
        author: site === '' ? null : capText(site, MAX_FIELD_CHARS),
      });
    }
  }
  const { drafts: sorted, duplicates } = sortAndDedupe(drafts);
  dead.sort((a, b) => a.line - b.line);
  return { drafts: sorted, dead, duplicates, rows: parsed.rows.length };
}
