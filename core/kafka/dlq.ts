// DLQ records keep the original key, value bytes and headers of the failed input, where it came
// from (topic/partition/offset, or a file and line for producers), the reason code and attempts.
// The DLQ key is the original topic (or source) so one source's failures stay in order.
import type { Serde } from '../serde/serde.js';
import type { DeadLetterFactory, InRecord, Failure } from './consumer.js';
import type { OutRecord } from './producer.js';
import { topicName } from '../../schemas/index.js';
import type { DeadLetter } from '../../schemas/types.js';

export function createDeadLetterFactory(deps: { serde: Serde; topicPrefix: string; now?: () => number }): DeadLetterFactory {
  const now = deps.now ?? Date.now;
  const dlqTopic = topicName('dlq', deps.topicPrefix);
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
    return Promise.resolve({ topic: dlqTopic, key: rec.topic, value: deps.serde.encode('dlq', value), timestamp: value.failedAt });
  };
}

/** A DLQ record for input that never was a Kafka record (a replay file row, an HTTP payload). */
export function deadLetterFromSource(
  deps: { serde: Serde; topicPrefix: string },
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
  return { topic: topicName('dlq', deps.topicPrefix), key: source.source, value: deps.serde.encode('dlq', value), timestamp: now };
}
