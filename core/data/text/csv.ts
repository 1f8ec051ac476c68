// The four real text files (data README 2a tweets, 2b news, 2c news descriptions, 2d CoinDesk
// headlines) -> drafts in publication order. Rows that cannot be mapped come back with their raw
// text and 1-based starting line for the DLQ; nothing is guessed. Rows a format's rule leaves out
// on purpose (descriptions after 2023-12) are counted with the rule's reason, never dropped unseen.
import { parse } from 'csv-parse/sync';
import { parseDayFirstUtc, parseTwitterDate, parseUtcDateTime } from './dates.js';
import { MAX_FIELD_CHARS, canonicalUrl, capText, textId } from './ids.js';
import type { TextDraft } from './draft.js';

export type TextFileFormat = 'tweets' | 'news' | 'descriptions' | 'headlines';

export interface DeadRow {
  line: number;
  raw: string;
  reason: string;
}

/** Rows a format's rule leaves out on purpose (not errors, so not dead-lettered), counted with the reason. */
export interface ExcludedRows {
  reason: string;
  rows: number;
}

export interface CsvMapping {
  drafts: TextDraft[];
  dead: DeadRow[];
  duplicates: number;
  rows: number;
  /** One entry per exclusion rule of the format (count 0 when nothing matched); empty for formats without one. */
  excluded: ExcludedRows[];
}

/** Descriptions dated at or after this instant are excluded (data README 2c). */
export const DESCRIPTIONS_END = Date.UTC(2024, 0, 1);
export const DESCRIPTIONS_EXCLUSION_REASON =
  'README 2c: rows after 2023-12 are date-only (00:00:00) machine-written summaries of exchange and finance posts with visible factual errors, not real news text';

/** What detectTextFormat recognises, for the error a caller raises when it returns null. */
export const TEXT_FORMATS_HELP =
  'the tweets CSV (id,text,user,created_at), the news CSV (date;...;text;title;url), the news descriptions CSV (Date,Short Description,...) or the CoinDesk headlines CSV (Publish Date,headline,link)';

const COLUMNS: Record<TextFileFormat, string[]> = {
  tweets: ['id', 'text', 'user', 'created_at'],
  news: ['date', 'text', 'title', 'url'],
  descriptions: ['Date', 'Short Description'],
  headlines: ['Publish Date', 'headline', 'link'],
};

export function detectTextFormat(header: string): TextFileFormat | null {
  const h = header.replace(/^\uFEFF/, '').trim();
  if (h.includes(';') && COLUMNS.news.every((c) => h.split(';').includes(c))) return 'news';
  // A header cell may be quoted ("Short Description"); the quotes are not part of the name.
  const cells = h.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
  for (const f of ['tweets', 'descriptions', 'headlines'] as const) if (COLUMNS[f].every((c) => cells.includes(c))) return f;
  return null;
}

interface Row {
  record: string[];
  raw: string;
  line: number;
}

/** A parsed CSV record, its raw text and the line it ends on. */
export interface CsvRecord {
  record: string[];
  raw: string;
  info: { lines: number };
}

/** Every record of a CSV text; a record the parser cannot take becomes a dead row with its line. */
export function parseCsvRecords(text: string, delimiter: string, dead: DeadRow[]): CsvRecord[] {
  return parse(text, {
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
  }) as unknown as CsvRecord[];
}

function rows(content: string, delimiter: string, dead: DeadRow[]): { header: string[]; rows: Row[] } {
  const out: Row[] = [];
  let header: string[] | null = null;
  const records = parseCsvRecords(content.replace(/^\uFEFF/, ''), delimiter, dead);
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

/** What one row becomes: a draft, a dead row with its reason, or excluded by the format's rule. */
type Outcome = { draft: TextDraft } | { dead: string } | 'excluded';

interface RowContext {
  col(name: string): string;
  source: string;
  now: number;
  futureToleranceMs: number;
}

function tweetRow(c: RowContext): Outcome {
  const id = c.col('id').trim();
  if (!/^\d{1,20}$/.test(id)) return { dead: `bad tweet id "${id.slice(0, 40)}"` };
  const date = parseTwitterDate(c.col('created_at'));
  if (!date.ok) return { dead: `bad created_at: ${date.reason}` };
  if (date.ms > c.now + c.futureToleranceMs) return { dead: 'created_at is in the future' };
  const text = c.col('text');
  if (text.trim() === '') return { dead: 'empty text' };
  const user = c.col('user').trim();
  return {
    draft: {
      id: textId(c.source, id),
      source: c.source,
      sourceId: id,
      kind: 'tweet',
      publishedAt: date.ms,
      title: null,
      text: capText(text),
      url: user ? `https://x.com/${user}/status/${id}` : `https://x.com/i/web/status/${id}`,
      author: user ? capText(user, MAX_FIELD_CHARS) : null,
    },
  };
}

/** The canonical URL in a row's column (null when empty), or why the row is dead. */
function urlColumn(c: RowContext, column: string): { url: string | null } | { dead: string } {
  const raw = c.col(column).trim();
  if (raw === '') return { url: null };
  const url = canonicalUrl(raw);
  return url === null ? { dead: `bad ${column} "${raw.slice(0, 100)}"` } : { url };
}

/** A news item's draft: its id hashes the source and sourceId. */
function newsDraft(
  c: RowContext,
  sourceId: string,
  publishedAt: number,
  fields: { title: string | null; text: string; url: string | null; author: string | null },
): Outcome {
  return { draft: { id: textId(c.source, sourceId), source: c.source, sourceId, kind: 'news', publishedAt, ...fields } };
}

function newsRow(c: RowContext): Outcome {
  const date = parseDayFirstUtc(c.col('date'));
  if (!date.ok) return { dead: `bad date: ${date.reason}` };
  if (date.ms > c.now + c.futureToleranceMs) return { dead: 'date is in the future' };
  const link = urlColumn(c, 'url');
  if ('dead' in link) return link;
  const { url } = link;
  const title = c.col('title').trim();
  const text = c.col('text').trim();
  if (title === '' && text === '') return { dead: 'neither title nor text' };
  // The file's 59 "repeated URLs" are 60 rows with an empty url, all different articles; those
  // get a content-derived id (date, title, text) instead of collapsing into one.
  const sourceId = url ?? `nourl:${textId('content', `${c.col('date')}\u0000${title}\u0000${text}`)}`;
  const site = c.col('source').trim();
  return newsDraft(c, sourceId, date.ms, {
    title: title === '' ? null : capText(title, MAX_FIELD_CHARS),
    text: capText(text === '' ? title : text),
    url,
    author: site === '' ? null : capText(site, MAX_FIELD_CHARS),
  });
}

// The descriptions file has no id, link or author: the id is derived from date and text, so the
// file's 2 fully duplicate rows collapse while its 172 repeated texts at other times stay apart.
// The "Accurate Sentiments" column is the repository author's model score: not read (README 2c).
function descriptionRow(c: RowContext): Outcome {
  const rawDate = c.col('Date').trim();
  const date = parseUtcDateTime(rawDate);
  if (!date.ok) return { dead: `bad Date: ${date.reason}` };
  if (date.ms > c.now + c.futureToleranceMs) return { dead: 'Date is in the future' };
  if (date.ms >= DESCRIPTIONS_END) return 'excluded';
  const text = c.col('Short Description').trim();
  if (text === '') return { dead: 'empty Short Description' };
  const sourceId = `row:${textId('content', `${rawDate}\u0000${text}`)}`;
  return newsDraft(c, sourceId, date.ms, { title: null, text: capText(text), url: null, author: null });
}

function headlineRow(c: RowContext): Outcome {
  const rawDate = c.col('Publish Date').trim();
  const date = parseUtcDateTime(rawDate);
  if (!date.ok) return { dead: `bad Publish Date: ${date.reason}` };
  if (date.ms > c.now + c.futureToleranceMs) return { dead: 'Publish Date is in the future' };
  const link = urlColumn(c, 'link');
  if ('dead' in link) return link;
  const { url } = link;
  const headline = c.col('headline').trim();
  if (headline === '') return { dead: 'empty headline' };
  // Every real row has a link (unique in the file); a link-less row gets a content-derived id.
  const sourceId = url ?? `nourl:${textId('content', `${rawDate}\u0000${headline}`)}`;
  return newsDraft(c, sourceId, date.ms, { title: capText(headline, MAX_FIELD_CHARS), text: capText(headline), url, author: null });
}

const ROW_MAPPERS: Record<TextFileFormat, (c: RowContext) => Outcome> = {
  tweets: tweetRow,
  news: newsRow,
  descriptions: descriptionRow,
  headlines: headlineRow,
};
const EXCLUSION_REASONS: Record<TextFileFormat, string | null> = { tweets: null, news: null, descriptions: DESCRIPTIONS_EXCLUSION_REASON, headlines: null };

export function mapTextCsv(content: string, format: TextFileFormat, source: string, opts: { now: number; futureToleranceMs: number }): CsvMapping {
  const dead: DeadRow[] = [];
  const parsed = rows(content, format === 'news' ? ';' : ',', dead);
  const cols = columnIndex(parsed.header, COLUMNS[format]);
  if (cols === null) throw new Error(`header lacks the ${format} columns (${COLUMNS[format].join(', ')})`);
  const mapRow = ROW_MAPPERS[format];
  const drafts: TextDraft[] = [];
  let excluded = 0;
  for (const row of parsed.rows) {
    if (row.record.length !== parsed.header.length) {
      dead.push({ line: row.line, raw: row.raw, reason: `row has ${row.record.length} fields, header has ${parsed.header.length}` });
      continue;
    }
    const out = mapRow({ col: (name) => row.record[cols.get(name) ?? -1] ?? '', source, now: opts.now, futureToleranceMs: opts.futureToleranceMs });
    if (out === 'excluded') excluded++;
    else if ('dead' in out) dead.push({ line: row.line, raw: row.raw, reason: out.dead });
    else drafts.push(out.draft);
  }
  const { drafts: sorted, duplicates } = sortAndDedupe(drafts);
  dead.sort((a, b) => a.line - b.line);
  const reason = EXCLUSION_REASONS[format];
  return { drafts: sorted, dead, duplicates, rows: parsed.rows.length, excluded: reason === null ? [] : [{ reason, rows: excluded }] };
}
