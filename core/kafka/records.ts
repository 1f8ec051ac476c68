// The record shape every reader in core/kafka hands out, so code outside this folder never sees
// the Kafka client's own message types.
import type { KafkaMessage } from 'kafkajs';

export interface InRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: Record<string, Buffer | undefined>;
}

export function toInRecord(topic: string, partition: number, m: KafkaMessage): InRecord {
  const headers: Record<string, Buffer | undefined> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    headers[k] = Array.isArray(v) ? (v[0] === undefined ? undefined : Buffer.from(v[0])) : v === undefined ? undefined : Buffer.from(v);
  }
  return { topic, partition, offset: m.offset, key: m.key, value: m.value, timestamp: Number(m.timestamp), headers };
}

/** A record to produce. */
export interface OutRecord {
  topic: string;
  key: string | null;
  value: Buffer | null;
  /** Kafka record timestamp (ms). BitPredict sets it to the event time so offsets can be looked up by time. */
  timestamp?: number;
  headers?: Record<string, string>;
}
