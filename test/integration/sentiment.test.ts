// The sentiment processor on the real stack: text.raw -> text.scored with VADER on every item and
// FinBERT (a tiny BERT-shaped model generated here, loaded through the configured models folder,
// fully offline) on news headlines, in batches, with the model id and version on each score.
// Bad input (not Avro, truncated, future-dated, empty id) goes to the DLQ; the partition moves on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPlatform, waitFor, type TestPlatform } from '../helpers/platform.js';
import { createSentimentProcessor } from '../../processors/sentiment/service.js';
import { loadFinbert, type FinbertScorer } from '../../processors/sentiment/finbert.js';
import { writeTinyBert } from '../../processors/sentiment/testing/tiny-bert.js';
import { scoreVader, textForVader } from '../../core/text/vader.js';
import { createProducer } from '../../core/kafka/producer.js';
import type { Service } from '../../core/service.js';
import type { TextItem } from '../../schemas/types.js';

const MODEL_ID = 'test/tiny-finbert';
const T0 = Date.UTC(2022, 5, 13, 4);

function item(id: string, kind: 'news' | 'tweet', title: string | null, text: string, publishedAt = T0): TextItem {
  return { id, source: 'test', sourceId: id, kind, publishedAt, title, text, url: null, author: null, ingestedAt: Date.now() };
}

describe('sentiment processor: VADER on everything, batched FinBERT on headlines', () => {
  let tp: TestPlatform;
  let proc: Service;
  let dir: string;
  let scorer: FinbertScorer;
  const fatal: unknown[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bp-sentiment-it-'));
    await writeTinyBert(dir, MODEL_ID);
    tp = await createTestPlatform('sentiment', {
      BITPREDICT_PROCESSING_GUARANTEE: 'exactly-once',
      BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR: dir,
      BITPREDICT_SENTIMENT_FINBERT_MODEL_ID: MODEL_ID,
      BITPREDICT_SENTIMENT_BATCH_SIZE: '4',
    });
    scorer = await loadFinbert({ modelsDir: dir, modelId: MODEL_ID });
    proc = await createSentimentProcessor({ platform: tp.platform, config: tp.config, onFatal: (e) => fatal.push(e) });
    await proc.start();
    await waitFor(() => proc.readiness().ready, 'the sentiment processor to join');
  });

  afterAll(async () => {
    await proc?.stop();
    await tp?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scores every item, FinBERT-scores headlines in batches, and dead-letters bad input', async () => {
    expect(proc.readiness().checks.finbert).toBe(`${MODEL_ID}@${scorer.modelVersion}`);
    const good: TextItem[] = [
      item('n1', 'news', 'Bitcoin miners report record profit as prices surge', 'Summary text.'),
      item('n2', 'news', 'Exchange hack leads to loss and lawsuit', 'Funds were stolen.', T0 + 1),
      item('n3', 'news', 'Crypto market update', 'Prices were flat today.', T0 + 2),
      item('n4', 'news', null, 'A news item without a headline gets VADER only.', T0 + 3),
      item('t1', 'tweet', null, 'bitcoin to the moon!!! 🚀 so bullish', T0 + 4),
      item('t2', 'tweet', null, 'This crash is terrible, I lost everything :(', T0 + 5),
      item('big', 'tweet', null, 'good '.repeat(30_000), T0 + 6),
      item('n5', 'news', 'Shares fell after the company announced a cut', 'More text.', T0 + 7),
      item('n6', 'news', 'Quarterly revenue growth beat estimates', 'More text.', T0 + 8),
    ];
    const { serde } = tp.platform;
    const topic = tp.topic('textRaw');
    const producer = await createProducer(tp.platform.kafka);
    const valid = serde.encode('textRaw', good[0] as TextItem);
    await producer.send([
      ...good.slice(0, 3).map((x) => ({ topic, key: 'k', value: serde.encode('textRaw', x), timestamp: x.publishedAt })),
      { topic, key: 'k', value: Buffer.from('definitely not avro'), timestamp: T0 },
      { topic, key: 'k', value: valid.subarray(0, 9), timestamp: T0 },
      { topic, key: 'k', value: serde.encode('textRaw', item('future', 'news', 'From the future', 'x', Date.now() + 86_400_000)) },
      { topic, key: 'k', value: serde.encode('textRaw', item('  ', 'tweet', null, 'no id')), timestamp: T0 },
      ...good.slice(3).map((x) => ({ topic, key: 'k', value: serde.encode('textRaw', x), timestamp: x.publishedAt })),
    ]);
    await producer.close();

    await waitFor(async () => (await tp.readAll('textScored')).length >= good.length, 'every valid item scored', 60_000);
    const scoredRecords = await tp.readAll('textScored');
    expect(scoredRecords).toHaveLength(good.length);
    const byId = new Map(scoredRecords.map((r) => [r.value?.id, r]));
    for (const g of good) {
      const r = byId.get(g.id);
      expect(r, g.id).toBeDefined();
      const s = r?.value;
      expect(r?.key).toBe(g.id);
      expect(r?.timestamp).toBe(g.publishedAt);
      expect(s?.publishedAt).toBe(g.publishedAt);
      expect(s?.vader).toEqual(scoreVader(textForVader(g)));
      if (g.kind === 'news' && g.title) {
        const [alone] = await scorer.scoreBatch([g.title]);
        expect(s?.finbert?.modelId).toBe(MODEL_ID);
        expect(s?.finbert?.modelVersion).toBe(scorer.modelVersion);
        // Scored inside a padded batch, equal to the headline scored alone.
        expect(s?.finbert?.positive).toBeCloseTo(alone?.positive ?? NaN, 5);
        expect(s?.finbert?.negative).toBeCloseTo(alone?.negative ?? NaN, 5);
      } else {
        expect(s?.finbert).toBeNull();
      }
    }
    expect((byId.get('n1')?.value?.finbert?.positive ?? 0) > (byId.get('n1')?.value?.finbert?.negative ?? 1)).toBe(true);
    expect((byId.get('n2')?.value?.finbert?.negative ?? 0) > (byId.get('n2')?.value?.finbert?.positive ?? 1)).toBe(true);

    const dlq = await tp.readAll('dlq');
    const reasons = dlq.map((d) => d.value?.errorCode).sort();
    expect(reasons).toEqual(['ERR_SERDE_DECODE', 'ERR_SERDE_DECODE', 'ERR_VALIDATION', 'ERR_VALIDATION']);
    expect(dlq.map((d) => d.value?.errorMessage).join('\n')).toMatch(/in the future[\s\S]*|id is empty/);
    expect(fatal).toEqual([]);
    const batches = await tp.platform.registry.getSingleMetric('bitpredict_sentiment_finbert_batch_seconds')?.get();
    const count = batches?.values.find((v) => (v as { metricName?: string }).metricName === 'bitpredict_sentiment_finbert_batch_seconds_count')?.value ?? 0;
    // 5 headlines, batch size 4: batched, not one inference per headline.
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(5);
  });
});
