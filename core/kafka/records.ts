// The record shapes of core/kafka: InRecord is what every reader hands out, OutRecord what every
// producer takes, so code outside this folder never sees the Kafka client's own message types
// (each driver maps its client's messages onto these).

export interface InRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  /** Header values by key; a key the record carries more than once maps to its first value. */
  headers: Record<string, Buffer | undefined>;
  /** Keys the record carries more than once (absent when none repeats; core/kafka/tracing.ts refuses a repeated traceparent). */
  duplicateHeaders?: string[];
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
