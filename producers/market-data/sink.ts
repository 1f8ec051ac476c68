// Where live candles go: validated against the exchange clock, deduplicated by the last published
// open time per key (moved on only after Kafka acknowledged), published in openTime order to
// market.candles. Bad input goes to the DLQ with its raw bytes, counted and logged.
import type { Logger } from '../../core/logger.js';
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import { deadLetterFromSource } from '../../core/kafka/dlq.js';
import { BitPredictError } from '../../core/errors.js';
import { validateCandle } from '../../core/domain/candle.js';
import type { Candle } from '../../schemas/types.js';
import type { CandleDraft, Exchange } from './domain/index.js';
import type { MarketDataMetrics } from './metrics.js';
import type { Series } from './series.js';

export type DeadCode = 'ERR_VALIDATION' | 'ERR_MALFORMED_INPUT';

export interface CandleSink {
  /** Last published candle open time per key. */
  readonly last: Map<string, number>;
  /** A DLQ record for bad exchange input. */
  deadLetter(exchange: Exchange, kind: 'ws' | 'http', source: string, raw: Buffer | null, code: DeadCode, reason: string): OutRecord;
  /** Sends one DLQ record for bad exchange input (none before the service has a producer). */
  reject(exchange: Exchange, kind: 'ws' | 'http', source: string, raw: Buffer | null, code: DeadCode, reason: string): Promise<void>;
  /** Validates, dedupes and publishes candles of one series in openTime order; updates `last` after the ack. */
  publish(s: Series, drafts: readonly CandleDraft[], path: 'ws' | 'rest', source: string, raw: Buffer | null): Promise<void>;
}

export function createCandleSink(deps: {
  platform: Platform;
  logger: Logger;
  metrics: MarketDataMetrics;
  /** Exchange-time clock of validation. */
  now: () => number;
  futureToleranceMs: number;
  /** The producer once the service has started, else null. */
  producer: () => Producer | null;
}): CandleSink {
  const { platform, logger, metrics, now } = deps;
  const { serde } = platform;
  const topic = platform.kafka.topic('candles');
  const dlqDeps = { serde, topicPrefix: platform.kafka.topicPrefix };
  const last = new Map<string, number>();

  function deadLetter(exchange: Exchange, kind: 'ws' | 'http', source: string, raw: Buffer | null, code: DeadCode, reason: string): OutRecord {
    metrics.invalid.inc({ exchange, reason: code });
    metrics.dlq.inc({ group: 'market-data', reason: code });
    logger.warn({ exchange, source, reason }, 'market data input sent to the DLQ');
    return deadLetterFromSource(dlqDeps, { kind, source, offset: null, raw }, { code, message: reason, attempts: 1 }, Date.now());
  }

  async function publish(s: Series, drafts: readonly CandleDraft[], path: 'ws' | 'rest', source: string, raw: Buffer | null): Promise<void> {
    const records: OutRecord[] = [];
    let newest = last.get(s.key) ?? Number.NEGATIVE_INFINITY;
    let count = 0;
    const t = now();
    for (const d of [...drafts].sort((a, b) => a.openTime - b.openTime)) {
      if (d.openTime <= newest) {
        metrics.skipped.inc({ exchange: s.exchange });
        continue;
      }
      const candle: Candle = { ...d, symbol: s.symbol, ingestedAt: Date.now() };
      const bad = validateCandle(candle, t, deps.futureToleranceMs);
      if (bad) {
        records.push(deadLetter(s.exchange, path === 'ws' ? 'ws' : 'http', source, raw ?? Buffer.from(JSON.stringify(d)), bad.code, `${s.key} ${bad.reason}`));
        continue;
      }
      records.push({ topic, key: s.key, value: serde.encode('candles', candle), timestamp: candle.closeTime });
      newest = d.openTime;
      count++;
    }
    if (records.length === 0) return;
    const producer = deps.producer();
    if (!producer) throw new BitPredictError('ERR_KAFKA', 'market data producer is not started');
    await producer.send(records);
    if (count > 0) {
      last.set(s.key, newest);
      metrics.candles.inc({ exchange: s.exchange, path }, count);
      if (path === 'rest') metrics.gapCandles.inc({ exchange: s.exchange }, count);
    }
  }

  return {
    last,
    deadLetter,
    async reject(exchange, kind, source, raw, code, reason) {
      await deps.producer()?.send([deadLetter(exchange, kind, source, raw, code, reason)]);
    },
    publish,
  };
}
