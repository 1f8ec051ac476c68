// Sentiment processor: text.raw -> text.scored. VADER scores every item; FinBERT (transformers.js,
// fully offline from BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR) scores news headlines when a model
// folder is configured, in batches: the consumer runner hands each chunk of records to
// prepareBatch, which runs one inference per BITPREDICT_SENTIMENT_BATCH_SIZE headlines, and the
// per-record handler picks the scores up (or scores a record alone if its batch failed). The
// model id and version travel with each score. Stateless, so it scales by consumer group alone.
import type { Platform } from '../../core/runtime.js';
import type { Service } from '../../core/service.js';
import { BitPredictError } from '../../core/errors.js';
import { counter, histogram } from '../../core/metrics.js';
import type { InRecord, RecordHandler } from '../../core/kafka/consumer.js';
import { createProcessor } from '../../core/processor.js';
import type { FinbertScore, TextItem } from '../../schemas/types.js';
import { scoredTextOf } from '../../core/text/scored.js';
import { loadFinbert, type FinbertScorer } from './finbert.js';
import { validateTextItem } from '../../core/text/validate.js';
import type { Config } from '../../core/config.js';

/** The slice of the configuration the sentiment processor reads. */
export type SentimentConfig = Pick<Config, 'consumer' | 'events' | 'sentiment'>;

export interface SentimentProcessorOptions {
  platform: Platform;
  config: SentimentConfig;
  groupId?: string;
  onFatal(err: BitPredictError): void;
  now?: () => number;
  /** A scorer already loaded (tests); otherwise loaded from config when a models folder is set. */
  finbert?: FinbertScorer | null;
}

/** What FinBERT reads: the headline of a news item; tweets and untitled items get none. */
export function finbertInput(item: Pick<TextItem, 'kind' | 'title'>): string | null {
  if (item.kind !== 'news' || item.title === null) return null;
  const t = item.title.trim();
  return t === '' ? null : t;
}

export function createSentimentHandler(deps: {
  platform: Platform;
  config: Pick<Config, 'events' | 'sentiment'>;
  finbert: FinbertScorer | null;
  now: () => number;
}) {
  const { platform, config, finbert, now } = deps;
  const { serde, registry } = platform;
  const outTopic = platform.kafka.topic('textScored');
  const batchSize = config.sentiment.batchSize;
  const scoredTotal = counter(registry, 'bitpredict_sentiment_scored_total', 'Texts scored, by kind and model', ['kind', 'model']);
  const batchSeconds = histogram(
    registry,
    'bitpredict_sentiment_finbert_batch_seconds',
    'FinBERT inference time per batch',
    [],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  // FinBERT scores computed by prepareBatch, by partition:offset, taken by the handler.
  const prepared = new Map<string, FinbertScore>();

  async function scoreHeadlines(texts: string[]): Promise<FinbertScore[]> {
    if (!finbert || texts.length === 0) return [];
    const stop = batchSeconds.startTimer();
    try {
      return await finbert.scoreBatch(texts);
    } finally {
      stop();
    }
  }

  async function prepareBatch(records: InRecord[]): Promise<void> {
    // The previous chunk has been handled by now; anything left in the map was skipped (rebalance).
    prepared.clear();
    if (!finbert) return;
    const wanted: { key: string; text: string }[] = [];
    for (const rec of records) {
      try {
        const item = await serde.decode('textRaw', rec.value);
        const input = finbertInput(item);
        if (input !== null) wanted.push({ key: `${rec.partition}:${rec.offset}`, text: input });
      } catch {
        // Undecodable: the handler dead-letters it.
      }
    }
    for (let i = 0; i < wanted.length; i += batchSize) {
      const chunk = wanted.slice(i, i + batchSize);
      const scores = await scoreHeadlines(chunk.map((w) => w.text));
      chunk.forEach((w, j) => {
        const s = scores[j];
        if (s) prepared.set(w.key, s);
      });
    }
  }

  const handler: RecordHandler = async (rec) => {
    const key = `${rec.partition}:${rec.offset}`;
    const cached = prepared.get(key);
    prepared.delete(key);
    const item = await serde.decode('textRaw', rec.value);
    const invalid = validateTextItem(item, now(), config.events.futureToleranceMs);
    if (invalid) throw new BitPredictError('ERR_VALIDATION', `text ${item.id}: ${invalid}`);
    let fb: FinbertScore | null = null;
    const input = finbertInput(item);
    if (finbert && input !== null) fb = cached ?? (await scoreHeadlines([input]))[0] ?? null;
    const scored = scoredTextOf(item, fb, now());
    const value = serde.encode('textScored', scored);
    scoredTotal.inc({ kind: item.kind, model: fb ? 'vader+finbert' : 'vader' });
    return [{ topic: outTopic, key: item.id, value, timestamp: item.publishedAt }];
  };
  return { handler, prepareBatch, prepared };
}

export async function createSentimentProcessor(opts: SentimentProcessorOptions): Promise<Service> {
  const { platform, config } = opts;
  const { logger } = platform;
  let finbert: FinbertScorer | null = opts.finbert ?? null;
  if (opts.finbert === undefined && config.sentiment.finbertModelsDir !== '') {
    finbert = await loadFinbert({ modelsDir: config.sentiment.finbertModelsDir, modelId: config.sentiment.finbertModelId });
  }
  if (finbert) logger.info({ modelId: finbert.modelId, modelVersion: finbert.modelVersion }, 'FinBERT loaded; news headlines get FinBERT scores');
  else logger.info('FinBERT off (BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR is empty): VADER only');
  const h = createSentimentHandler({ platform, config, finbert, now: opts.now ?? Date.now });
  return createProcessor({
    platform,
    consumer: config.consumer,
    name: 'sentiment',
    groupId: opts.groupId ?? platform.kafka.groupId('sentiment'),
    input: 'textRaw',
    handler: h.handler,
    prepareBatch: h.prepareBatch,
    flushEvery: Math.max(config.sentiment.batchSize, 100),
    onFatal: opts.onFatal,
    checks: () => ({ finbert: finbert ? `${finbert.modelId}@${finbert.modelVersion}` : 'off' }),
  });
}
