// Your own text file (bitpredict evaluate/train/backtest --text-file): any CSV with a header whose
// time and text columns are found by their common names (or named with --text-columns
// time=created_at,text=body,source=site). Times in epoch ms, epoch seconds or ISO 8601 (a time
// without a zone is UTC). Every row comes out as a draft or as a dead row with its 1-based line and
// reason: malformed quoting, a wrong field count, a bad or future time, an empty or oversized text.
// Nothing is dropped unseen; duplicated rows are counted (CsvMapping.duplicates) and rows out of
// time order are sorted, as for the four known layouts (csv.ts).
import { MAX_FIELD_CHARS, MAX_TEXT_CHARS, capText, textId } from './ids.js';
import type { TextDraft } from './draft.js';
import { parseCsvRecords, type CsvMapping, type DeadRow } from './csv.js';

/** The columns of a generic text CSV: header names as in the file. */
export interface TextColumns {
  time: string;
  text: string;
  source?: string;
  id?: string;
}

/** Header names tried in this order, compared case-insensitively with spaces, dashes and underscores ignored. */
export const TEXT_COLUMN_NAMES = {
  time: ['time', 'timestamp', 'datetime', 'date', 'created_at', 'createdat', 'published', 'published_at', 'publishedat', 'publish date', 'pubdate', 'time_ms'],
  text: ['text', 'title', 'content', 'body', 'tweet', 'headline', 'message', 'description', 'summary'],
  source: ['source', 'site', 'publisher', 'outlet', 'user', 'author'],
  id: ['id', 'tweet_id', 'guid', 'uid'],
} as const;

type Role = keyof typeof TEXT_COLUMN_NAMES;
const ROLES: readonly Role[] = ['time', 'text', 'source', 'id'];

const norm = (s: string): string =>
  s
    .replace(/^\uFEFF/, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '');

/**
 * `time=created_at,text=body,source=site` as a partial TextColumns; an Error naming the bad part
 * otherwise (the caller adds the flag).
 */
export function parseTextColumns(spec: string): Partial<TextColumns> {
  const out: Partial<TextColumns> = {};
  for (const part of spec.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*(.+?)\s*$/.exec(part);
    if (!m) throw new Error(`"${part}" is not role=column (roles: ${ROLES.join(', ')})`);
    const role = m[1] as Role;
    if (!ROLES.includes(role)) throw new Error(`"${m[1]}" is not a column role (roles: ${ROLES.join(', ')})`);
    if (out[role] !== undefined) throw new Error(`${role} is given twice`);
    out[role] = m[2]!;
  }
  return out;
}

/**
 * The columns of this header: the ones given, the others found by their common names (time and
 * text are required). An Error saying what is missing and which names were tried otherwise.
 */
export function findTextColumns(header: readonly string[], given: Partial<TextColumns> = {}): TextColumns {
  const cells = header.map(norm);
  const pick = (role: Role): string | undefined => {
    const wanted = given[role];
    if (wanted !== undefined) {
      const i = cells.indexOf(norm(wanted));
      if (i < 0) throw new Error(`the ${role} column "${wanted}" is not in the header (${header.join(', ')})`);
      return header[i]!;
    }
    for (const name of TEXT_COLUMN_NAMES[role]) {
      const i = cells.indexOf(norm(name));
      if (i >= 0) return header[i]!;
    }
    return undefined;
  };
  const time = pick('time');
  const text = pick('text');
  const missing = [time === undefined ? 'time' : null, text === undefined ? 'text' : null].filter((x) => x !== null);
  if (missing.length > 0 || time === undefined || text === undefined) {
    throw new Error(
      `no ${missing.join(' or ')} column in the header (${header.join(', ')}): name it with --text-columns ${missing.map((r) => `${r}=<column>`).join(',')}, or use one of the names ${missing.map((r) => `${r}: ${TEXT_COLUMN_NAMES[r as Role].join('/')}`).join('; ')}`,
    );
  }
  const source = pick('source');
  const id = pick('id');
  return { time, text, ...(source === undefined ? {} : { source }), ...(id === undefined ? {} : { id }) };
}

/** Earliest and latest epoch ms a time may be (1990 .. 2100): outside, a number is not a time in ms or s. */
const MIN_MS = Date.UTC(1990, 0, 1);
const MAX_MS = Date.UTC(2100, 0, 1);

/** Epoch ms, epoch s (10 digits or fewer, maybe with a fraction) or ISO 8601 (no zone: UTC) -> ms. */
export function parseTextTime(raw: string): { ok: true; ms: number } | { ok: false; reason: string } {
  const s = raw.trim();
  if (s === '') return { ok: false, reason: 'empty time' };
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    const ms = n >= 1e11 ? n : n * 1000;
    if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) return { ok: false, reason: `time "${s.slice(0, 40)}" is no epoch ms or s between 1990 and 2100` };
    return { ok: true, ms: Math.round(ms) };
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (!m) return { ok: false, reason: `unrecognised time "${s.slice(0, 64)}" (epoch ms, epoch s or ISO 8601)` };
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m;
  const z = zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac.slice(0, 4)}${z}`);
  // Date.parse rolls 2024-02-31 over to March: a date that does not round-trip is refused.
  if (Number.isNaN(ms) || new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).getUTCDate() !== Number(d))
    return { ok: false, reason: `invalid date "${s.slice(0, 64)}"` };
  return { ok: true, ms };
}

/** The delimiter of a header line: the one of , ; and tab it holds most of (comma on a tie). */
function delimiterOf(headerLine: string): string {
  const count = (c: string): number => headerLine.split(c).length - 1;
  const best = [';', '\t'].find((c) => count(c) > count(','));
  return best ?? ',';
}

/**
 * A generic text CSV -> drafts in publication order (duplicate ids dropped and counted), dead rows
 * with their lines. `source` names the file (replay:<basename>), as for the known layouts; a source
 * column's value becomes the draft's author. Throws an Error for a file without the header it needs.
 */
export function mapGenericTextCsv(
  content: string,
  source: string,
  opts: { now: number; futureToleranceMs: number; columns?: Partial<TextColumns> },
): CsvMapping & { columns: TextColumns } {
  const text = content.replace(/^\uFEFF/, '');
  const nl = text.indexOf('\n');
  const delimiter = delimiterOf(nl >= 0 ? text.slice(0, nl) : text);
  const dead: DeadRow[] = [];
  const records = parseCsvRecords(text, delimiter, dead);
  const head = records.shift();
  if (head === undefined) throw new Error('empty file: no header line');
  const header = head.record.map((c) => c.trim());
  const columns = findTextColumns(header, opts.columns);
  const at = (name: string | undefined): number => (name === undefined ? -1 : header.indexOf(name));
  const [ti, xi, si, ii] = [at(columns.time), at(columns.text), at(columns.source), at(columns.id)];
  const drafts: TextDraft[] = [];
  for (const r of records) {
    const raw = r.raw.replace(/\r?\n$/, '');
    const line = r.info.lines - (raw.match(/\n/g) ?? []).length;
    const fail = (reason: string): void => void dead.push({ line, raw, reason });
    if (r.record.length !== header.length) {
      fail(`row has ${r.record.length} fields, header has ${header.length}`);
      continue;
    }
    const time = parseTextTime(r.record[ti] ?? '');
    if (!time.ok) {
      fail(`bad ${columns.time}: ${time.reason}`);
      continue;
    }
    if (time.ms > opts.now + opts.futureToleranceMs) {
      fail(`${columns.time} ${new Date(time.ms).toISOString()} is in the future (excluded)`);
      continue;
    }
    const body = (r.record[xi] ?? '').trim();
    if (body === '') {
      fail(`empty ${columns.text}`);
      continue;
    }
    if (body.length > MAX_TEXT_CHARS) {
      fail(`${columns.text} has ${body.length} characters, over the ${MAX_TEXT_CHARS} a text may have`);
      continue;
    }
    const site = si < 0 ? '' : (r.record[si] ?? '').trim();
    const givenId = ii < 0 ? '' : (r.record[ii] ?? '').trim();
    // Without an id column, the same time, source and text is the same item (a repeated row).
    const sourceId = givenId !== '' ? givenId : `row:${textId('content', `${time.ms}\u0000${site}\u0000${body}`)}`;
    drafts.push({
      id: textId(source, sourceId),
      source,
      sourceId,
      kind: norm(columns.text) === 'tweet' ? 'tweet' : 'news',
      publishedAt: time.ms,
      title: null,
      text: body,
      url: null,
      author: site === '' ? null : capText(site, MAX_FIELD_CHARS),
    });
  }
  drafts.sort((a, b) => a.publishedAt - b.publishedAt);
  const seen = new Set<string>();
  const unique = drafts.filter((d) => !seen.has(d.id) && Boolean(seen.add(d.id)));
  dead.sort((a, b) => a.line - b.line);
  return { drafts: unique, dead, duplicates: drafts.length - unique.length, rows: records.length + countSkipped(dead), excluded: [], columns };
}

/** Rows csv-parse skipped (malformed quoting) are not among its records but are rows of the file. */
function countSkipped(dead: readonly DeadRow[]): number {
  return dead.filter((d) => d.reason.startsWith('unparseable row')).length;
}
