// Shared by the text producers: TextItem -> text.raw record (key = id, timestamp = publishedAt),
// source failures -> DLQ records, and the dedupe memory. The memory is rebuilt on start from the
// tail of text.raw itself (not Redis): the topic is the record of what was published, so the two
// can never disagree, and the producers need no Redis.
import type { Platform } from '../../core/runtime.js';
import type { OutRecord } from '../../core/kafka/producer.js';
import { deadLetterFromSource } from '../../core/kafka/dlq.js';
import { readTail } from '../../core/kafka/tail.js';
import type { ErrorCode } from '../../core/errors.js';
import type { TextItem } from '../../schemas/types.js';
import type { TextDraft } from '../../core/data/text/draft.js';

export function textRecord(platform: Platform, draft: TextDraft, ingestedAt: number): OutRecord {
  const item: TextItem = { ...draft, ingestedAt };
  return { topic: platform.kafka.topic('textRaw'), key: item.id, value: platform.serde.encode('textRaw', item), timestamp: item.publishedAt };
}

export function deadTextRecord(
  platform: Platform,
  src: { kind: 'file' | 'http'; source: string; offset: number | null; raw: string },
  code: ErrorCode,
  message: string,
  now: number,
): OutRecord {
  return deadLetterFromSource(
    { serde: platform.serde, topicPrefix: platform.kafka.topicPrefix },
    { kind: src.kind, source: src.source, offset: src.offset, raw: Buffer.from(src.raw, 'utf8') },
    { code, message, attempts: 1 },
    now,
  );
}

/** Insertion-ordered set that forgets its oldest entries beyond `max`, so memory stays bounded. */
export class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly max: number) {}
  has(k: string): boolean {
    return this.items.has(k);
  }
  add(k: string): void {
    if (this.items.has(k)) return;
    this.items.add(k);
    if (this.items.size > this.max) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
  }
  get size(): number {
    return this.items.size;
  }
}

export interface TailSummary {
  ids: string[];
  /** Newest publishedAt per source. */
  lastPublished: Map<string, number>;
  /** Highest X tweet id published (source "x"), for since_id after a restart. */
  newestTweetId: string | null;
}

/** Reads the last `perPartition` records of each text.raw partition. Undecodable records are skipped. */
export async function loadTextTail(platform: Platform, perPartition: number): Promise<TailSummary> {
  const records = await readTail(platform.kafka, platform.kafka.topic('textRaw'), { perPartition });
  const out: TailSummary = { ids: [], lastPublished: new Map(), newestTweetId: null };
  for (const r of records) {
    if (r.key) out.ids.push(r.key.toString());
    if (!r.value) continue;
    const item = await platform.serde.decode('textRaw', r.value).catch(() => null);
    if (!item) continue;
    out.lastPublished.set(item.source, Math.max(out.lastPublished.get(item.source) ?? 0, item.publishedAt));
    if (item.source === 'x' && /^\d{1,20}$/.test(item.sourceId) && (out.newestTweetId === null || BigInt(item.sourceId) > BigInt(out.newestTweetId)))
      out.newestTweetId = item.sourceId;
  }
  return out;
}
