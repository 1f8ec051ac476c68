// BitPredict's records to and from kafkajs' message shapes: InRecord for what a consumer hands
// out, OutRecord grouped into kafkajs' per-topic messages for what a producer sends.
import type { KafkaMessage, Message } from 'kafkajs';
import type { InRecord, OutRecord } from '../../records.js';

export function toInRecord(topic: string, partition: number, m: KafkaMessage): InRecord {
  const headers: Record<string, Buffer | undefined> = {};
  let duplicateHeaders: string[] | undefined;
  // kafkajs gathers the values of a key that repeats into an array: the first value counts, the key is noted.
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (Array.isArray(v) && v.length > 1) (duplicateHeaders ??= []).push(k);
    headers[k] = Array.isArray(v) ? (v[0] === undefined ? undefined : Buffer.from(v[0])) : v === undefined ? undefined : Buffer.from(v);
  }
  const rec: InRecord = { topic, partition, offset: m.offset, key: m.key, value: m.value, timestamp: Number(m.timestamp), headers };
  if (duplicateHeaders) rec.duplicateHeaders = duplicateHeaders;
  return rec;
}

/** The records grouped by topic, in order, as one sendBatch takes them. */
export function toTopicMessages(records: OutRecord[]): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) {
      list = [];
      byTopic.set(r.topic, list);
    }
    const m: Message = { key: r.key, value: r.value };
    if (r.timestamp !== undefined) m.timestamp = String(r.timestamp);
    if (r.headers) m.headers = r.headers;
    list.push(m);
  }
  return [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages }));
}
