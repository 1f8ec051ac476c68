// RSS 2.0, RSS 1.0 (RDF) and Atom documents -> text items. Parsing is pure: the caller supplies the
// feed's source name, and gets one entry per item, either a draft TextItem or a reason it was
// rejected (with the item's own XML-as-JSON for the DLQ). A document that is not well-formed XML
// (for example truncated mid-transfer) is rejected as a whole, before any item is used, so a cut
// feed never publishes a partial item.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parseFeedDate } from '../../../core/data/text/dates.js';
import { MAX_FIELD_CHARS, canonicalUrl, capText, textId } from '../../../core/data/text/ids.js';

import type { TextDraft } from '../../../core/data/text/draft.js';

export type { TextDraft };

export type FeedEntry =
  | { ok: true; item: TextDraft }
  /** key: the item's guid/id/link when it has one, so a rejected item is not re-reported every poll. */
  | { ok: false; key: string | null; reason: string; raw: string };

export type FeedResult = { ok: true; format: 'rss' | 'atom' | 'rdf'; entries: FeedEntry[] } | { ok: false; reason: string };

/** Largest document accepted (characters); a bigger body is a misconfigured URL, not a feed. */
export const MAX_FEED_CHARS = 5_000_000;
/** Most items taken from one document. */
export const MAX_FEED_ITEMS = 1_000;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  // Values stay strings: a numeric guid must not turn into a float and lose digits.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: true,
  isArray: (name) => name === 'item' || name === 'entry' || name === 'link' || name === 'author' || name === 'category',
});

type XmlNode = Record<string, unknown>;

/** Text content of a node that may be a string, a {#text} object, or a list of either. */
function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return text(v[0]);
  if (typeof v === 'object') return text((v as XmlNode)['#text']);
  return null;
}

function nonEmpty(s: string | null): string | null {
  if (s === null) return null;
  const t = s.trim();
  return t === '' ? null : t;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

/** Feed bodies are usually HTML fragments; sentiment scoring wants the words, so tags are removed. */
export function stripHtml(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(amp|lt|gt|quot|apos|nbsp|#39);/g, (_, e: string) => ENTITIES[e] ?? '')
    .replace(/&#(\d{1,6});/g, (_, n: string) => safeCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]{1,6});/gi, (_, n: string) => safeCodePoint(parseInt(n, 16)))
    .replace(/\s+/g, ' ')
    .trim();
}

function safeCodePoint(n: number): string {
  return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : '';
}

function clip(s: string | null, max = MAX_FIELD_CHARS): string | null {
  return s === null ? null : capText(s, max);
}

function atomLink(v: unknown): string | null {
  const links = Array.isArray(v) ? (v as unknown[]) : v === undefined ? [] : [v];
  let fallback: string | null = null;
  for (const l of links) {
    if (typeof l === 'string') {
      fallback ??= l;
      continue;
    }
    if (l === null || typeof l !== 'object') continue;
    const href = nonEmpty(text((l as XmlNode)['@_href']));
    const rel = text((l as XmlNode)['@_rel']) ?? 'alternate';
    if (href && rel === 'alternate') return href;
    if (href) fallback ??= href;
  }
  return fallback;
}

function authorName(v: unknown): string | null {
  const first: unknown = Array.isArray(v) ? v[0] : v;
  if (first !== null && typeof first === 'object' && 'name' in (first as XmlNode)) return nonEmpty(text((first as XmlNode).name));
  return nonEmpty(text(first));
}

interface RawFields {
  guid: string | null;
  link: string | null;
  title: string | null;
  body: string | null;
  date: string | null;
  author: string | null;
}

function rssFields(node: XmlNode): RawFields {
  return {
    guid: nonEmpty(text(node.guid)),
    link: nonEmpty(text(node.link)),
    title: nonEmpty(text(node.title)),
    body: nonEmpty(text(node['content:encoded'])) ?? nonEmpty(text(node.description)),
    date: nonEmpty(text(node.pubDate)) ?? nonEmpty(text(node['dc:date'])),
    author: authorName(node['dc:creator']) ?? authorName(node.author),
  };
}

function rdfFields(node: XmlNode): RawFields {
  return { ...rssFields(node), guid: nonEmpty(text(node['@_rdf:about'])) };
}

function atomFields(node: XmlNode): RawFields {
  return {
    guid: nonEmpty(text(node.id)),
    link: atomLink(node.link),
    title: nonEmpty(text(node.title)),
    body: nonEmpty(text(node.summary)) ?? nonEmpty(text(node.content)),
    date: nonEmpty(text(node.published)) ?? nonEmpty(text(node.updated)),
    author: authorName(node.author),
  };
}

/** Maps one item's fields; exported for the replay path and tests. */
export function toDraft(source: string, f: RawFields, raw: string, opts: { now: number; futureToleranceMs: number }): FeedEntry {
  const url = f.link === null ? null : canonicalUrl(f.link);
  const sourceId = f.guid ?? url;
  if (sourceId === null) return { ok: false, key: null, reason: 'item has neither guid/id nor a usable link', raw };
  const key = sourceId;
  const date = parseFeedDate(f.date);
  if (!date.ok) return { ok: false, key, reason: `bad publication date: ${date.reason}`, raw };
  if (date.ms > opts.now + opts.futureToleranceMs)
    return { ok: false, key, reason: `publication date ${new Date(date.ms).toISOString()} is in the future`, raw };
  const title = f.title === null ? null : stripHtml(f.title);
  const body = f.body === null ? '' : stripHtml(f.body);
  const textValue = body !== '' ? body : (title ?? '');
  if (textValue === '') return { ok: false, key, reason: 'item has neither title nor text', raw };
  return {
    ok: true,
    item: {
      id: textId(source, sourceId),
      source,
      sourceId: capText(sourceId, MAX_FIELD_CHARS),
      kind: 'news',
      publishedAt: date.ms,
      title: clip(title),
      text: capText(textValue),
      url: clip(url ?? f.link),
      author: clip(f.author),
    },
  };
}

export function parseFeed(xml: string, source: string, opts: { now: number; futureToleranceMs: number }): FeedResult {
  if (xml.length > MAX_FEED_CHARS) return { ok: false, reason: `document of ${xml.length} characters exceeds ${MAX_FEED_CHARS}` };
  const trimmed = xml.trim();
  if (trimmed === '') return { ok: false, reason: 'empty document' };
  const valid = XMLValidator.validate(trimmed);
  if (valid !== true) return { ok: false, reason: `malformed XML at line ${valid.err.line}: ${valid.err.msg}` };
  let doc: XmlNode;
  try {
    doc = parser.parse(trimmed) as XmlNode;
  } catch (err) {
    return { ok: false, reason: `malformed XML: ${err instanceof Error ? err.message : String(err)}` };
  }
  let format: 'rss' | 'atom' | 'rdf';
  let nodes: unknown[];
  let fields: (n: XmlNode) => RawFields;
  const rss = doc.rss as XmlNode | undefined;
  const atom = doc.feed as XmlNode | undefined;
  const rdf = doc['rdf:RDF'] as XmlNode | undefined;
  if (rss && typeof rss === 'object') {
    format = 'rss';
    const channel = rss.channel as XmlNode | undefined;
    if (!channel || typeof channel !== 'object') return { ok: false, reason: 'RSS document without a channel' };
    nodes = (channel.item as unknown[] | undefined) ?? [];
    fields = rssFields;
  } else if (atom && typeof atom === 'object') {
    format = 'atom';
    nodes = (atom.entry as unknown[] | undefined) ?? [];
    fields = atomFields;
  } else if (rdf && typeof rdf === 'object') {
    format = 'rdf';
    nodes = (rdf.item as unknown[] | undefined) ?? [];
    fields = rdfFields;
  } else {
    return { ok: false, reason: 'not an RSS, RDF or Atom document' };
  }
  const entries: FeedEntry[] = [];
  for (const node of nodes.slice(0, MAX_FEED_ITEMS)) {
    const raw = capText(JSON.stringify(node), 20_000);
    if (node === null || typeof node !== 'object') {
      entries.push({ ok: false, key: null, reason: 'empty item', raw });
      continue;
    }
    entries.push(toDraft(source, fields(node as XmlNode), raw, opts));
  }
  return { ok: true, format, entries };
}

/** Source name of a feed: "rss:<host><path>", stable across query-string changes. */
export function feedSource(feedUrl: string): string {
  try {
    const u = new URL(feedUrl);
    return `rss:${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return `rss:${feedUrl}`;
  }
}
