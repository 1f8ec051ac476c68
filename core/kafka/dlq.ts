// DLQ records keep the original key, value bytes and headers of the failed input, where it came
// from (topic/partition/offset, or a file and line for producers), the reason code and attempts.
// The DLQ key is the original topic (or source) so one source's failures stay in order.
//
// A DLQ record must fit the broker's max.message.bytes, or its flush fails and the process restarts
// into the same failure. One larger than maxRecordBytes (BITPREDICT_DLQ_MAX_RECORD_BYTES) keeps
// the head of its value only, and says so in its Kafka headers (docs/operations.md#dead-letter-queue):
//   bitpredict-dlq-truncated        what was cut: "value", or "value,headers,key" when the original
//                                   headers and key alone were too large (headers dropped, key cut to 1 KiB)
//   bitpredict-dlq-original-size    bytes of the original value
//   bitpredict-dlq-original-sha256  hex SHA-256 of the original value
// A truncated record cannot be redriven (`bitpredict dlq redrive` refuses it).
import { createHash } from 'node:crypto';
import type { Serde } from '../serde/serde.js';
import type { DeadLetterFactory, Failure } from './runner/types.js';
import type { InRecord } from './records.js';
import type { OutRecord } from './producer.js';
import { topicName } from '../../schemas/index.js';
import type { DeadLetter } from '../../schemas/types.js';

/** Default cap of one encoded DLQ record: below the broker's default max.message.bytes (1048588) with room for the batch framing. */
export const DEFAULT_DLQ_MAX_RECORD_BYTES = 1_000_000;

/** Kafka headers a truncated DLQ record carries. */
export const DLQ_HEADERS = {
  truncated: 'bitpredict-dlq-truncated',
  originalSize: 'bitpredict-dlq-original-size',
  originalSha256: 'bitpredict-dlq-original-sha256',
} as const;

/** Set on a record `bitpredict dlq redrive` sends back to its source topic: the number of the redrive (1, 2...). */
export const REDRIVE_HEADER = 'bitpredict-redriven';

/** The most an original key keeps when the original headers and key alone are over the cap. */
const KEY_KEEP_BYTES = 1024;

/**
 * Encodes the DLQ value; over `maxBytes` (with the record key), cuts the original value (and, if
 * need be, drops the original headers and cuts the key) so that it fits, with the Kafka headers
 * that say what was cut and what the original was.
 */
export function encodeDeadLetter(
  serde: Serde,
  value: DeadLetter,
  recordKey: string,
  maxBytes: number,
): { value: Buffer; headers: Record<string, string> | undefined } {
  const keyBytes = Buffer.byteLength(recordKey);
  const encoded = serde.encode('dlq', value);
  if (encoded.length + keyBytes <= maxBytes) return { value: encoded, headers: undefined };
  const original = value.value ?? Buffer.alloc(0);
  const headers: Record<string, string> = {
    [DLQ_HEADERS.truncated]: 'value',
    [DLQ_HEADERS.originalSize]: String(original.length),
    [DLQ_HEADERS.originalSha256]: createHash('sha256').update(original).digest('hex'),
  };
  // Room for the Kafka headers above and the Avro length prefixes.
  const room = maxBytes - keyBytes - 256;
  let cut: DeadLetter = { ...value, value: Buffer.alloc(0) };
  if (serde.encode('dlq', cut).length > room) {
    headers[DLQ_HEADERS.truncated] = 'value,headers,key';
    cut = { ...cut, headers: [], key: value.key === null ? null : value.key.subarray(0, KEY_KEEP_BYTES) };
  }
  let keep = Math.max(0, room - serde.encode('dlq', cut).length);
  for (;;) {
    const out = serde.encode('dlq', { ...cut, value: original.subarray(0, keep) });
    const over = out.length + keyBytes + Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length, 0) - maxBytes;
    if (over <= 0 || keep === 0) return { value: out, headers };
    keep = Math.max(0, keep - over);
  }
}

export function createDeadLetterFactory(deps: { serde: Serde; topicPrefix: string; now?: () => number; maxRecordBytes?: number }): DeadLetterFactory {
  const now = deps.now ?? Date.now;
  const dlqTopic = topicName('dlq', deps.topicPrefix);
  const maxBytes = deps.maxRecordBytes ?? DEFAULT_DLQ_MAX_RECORD_BYTES;
  return async (rec: InRecord, failure: Failure, groupId: string): Promise<OutRecord> => {
    const value: DeadLetter = {
      sourceKind: 'topic',
      source: rec.topic,
      partition: rec.partition,
      offset: Number(rec.offset),
      key: rec.key,
      value: rec.value,
      headers: Object.entries(rec.headers).map(([key, v]) => ({ key, value: v ?? null })),
      errorCode: failure.code,
      errorMessage: failure.message.slice(0, 2000),
      attempts: failure.attempts,
      consumerGroup: groupId,
      failedAt: now(),
    };
    const { value: bytes, headers } = encodeDeadLetter(deps.serde, value, rec.topic, maxBytes);
    return Promise.resolve({ topic: dlqTopic, key: rec.topic, value: bytes, timestamp: value.failedAt, ...(headers ? { headers } : {}) });
  };
}

/** A DLQ record for input that never was a Kafka record (a replay file row, an HTTP payload). */
export function deadLetterFromSource(
  deps: { serde: Serde; topicPrefix: string; maxRecordBytes?: number },
  source: { kind: 'file' | 'http' | 'ws'; source: string; offset: number | null; raw: Buffer | null },
  failure: Failure,
  now: number,
): OutRecord {
  const value: DeadLetter = {
    sourceKind: source.kind,
    source: source.source,
    partition: null,
    offset: source.offset,
    key: null,
    value: source.raw,
    headers: [],
    errorCode: failure.code,
    errorMessage: failure.message.slice(0, 2000),
    attempts: failure.attempts,
    consumerGroup: null,
    failedAt: now,
  };
  const { value: bytes, headers } = encodeDeadLetter(deps.serde, value, source.source, deps.maxRecordBytes ?? DEFAULT_DLQ_MAX_RECORD_BYTES);
  return { topic: topicName('dlq', deps.topicPrefix), key: source.source, value: bytes, timestamp: now, ...(headers ? { headers } : {}) };
}
