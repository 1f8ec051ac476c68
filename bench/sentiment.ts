// sentiment: VADER texts/s (scoreVader: the package's rules with our faster tokenizer) on one core over real texts (bitcoin tweets + Financial PhraseBank
// 50Agree sentences), beside a bare loop that lower-cases and splits the same texts on whitespace
// (`ratio` = vader / baseline); alternating rounds after one warm-up, medians reported. Goal:
// >= 10k texts/s. Then VADER accuracy (label rule: compound >= 0.05 positive, <= -0.05 negative,
// else neutral) as confusion matrices and macro-F1 on Financial PhraseBank (50Agree, AllAgree) and
// the twitter financial news set (valid, train). VADER is not fitted, so scoring the train split
// is a plain measurement.
// FinBERT: with BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR set (and BITPREDICT_SENTIMENT_FINBERT_MODEL_ID,
// default ProsusAI/finbert; optionally BENCH_FINBERT_DTYPE fp32|q8, BENCH_FINBERT_MAX_LENGTH), the
// real model is scored on the
// same labelled sets (`finbert`). Without them `finbert` is null and only the batch throughput of
// the tiny generated test model is reported as `tiny_test_model`: a pipeline-overhead figure, NOT
// FinBERT speed or accuracy.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import {
  argmaxLabel,
  classificationMetrics,
  confusionMatrix,
  parsePhraseBank,
  parseTwitterFinancialCsv,
  phrasebankEncoding,
  vaderLabel,
  type LabelledText,
  type SentimentLabel,
} from '../processors/sentiment/domain/evaluate.js';
import vaderPackage from 'vader-sentiment';
import { VADER_MAX_CHARS, VADER_VERSION, scoreVader } from '../core/text/vader.js';
import { loadFinbert, type FinbertScorer } from '../processors/sentiment/finbert.js';
import { writeTinyBert } from '../processors/sentiment/testing/tiny-bert.js';
import { median, progress, REPO_ROOT } from './common.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PASSES = Number(process.env.BENCH_PASSES ?? 3); // corpus passes per round
const FINBERT_BATCH = Number(process.env.BENCH_FINBERT_BATCH ?? 32);

const round3 = (x: number): number => Number(x.toFixed(4));

function loadSets(dataDir: string): { tweets: string[]; sets: Record<string, LabelledText[]> } {
  const pb = (file: string): LabelledText[] => {
    const path = join(dataDir, 'financial_phrasebank_v1.0', file);
    return parsePhraseBank(readFileSync(path, phrasebankEncoding(file)));
  };
  const tw = (file: string): LabelledText[] => parseTwitterFinancialCsv(readFileSync(join(dataDir, 'twitter_financial_news_sentiment', file), 'utf8'));
  const tweetRows = parse<Record<string, string>>(readFileSync(join(dataDir, 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv'), 'utf8'), {
    columns: true,
    skip_empty_lines: true,
  });
  return {
    tweets: tweetRows.map((r) => r.text ?? ''),
    sets: {
      phrasebank_50agree: pb('Sentences_50Agree.txt'),
      phrasebank_allagree: pb('Sentences_AllAgree.txt'),
      tweets_valid: tw('sent_valid.csv'),
      tweets_train: tw('sent_train.csv'),
    },
  };
}

function evaluate(actual: SentimentLabel[], predicted: SentimentLabel[]): Record<string, unknown> {
  const cm = confusionMatrix(actual, predicted);
  const m = classificationMetrics(cm);
  return {
    n: cm.total,
    macro_f1: round3(m.macroF1),
    accuracy: round3(m.accuracy),
    f1: Object.fromEntries(Object.entries(m.perClass).map(([k, v]) => [k, round3(v.f1)])),
    confusion: { rows_actual_cols_predicted: cm.labels, matrix: cm.matrix },
  };
}

function bareTokenize(texts: string[]): number {
  let tokens = 0;
  for (const t of texts) tokens += t.toLowerCase().split(/\s+/).length;
  return tokens;
}

async function finbertFigures(scorer: FinbertScorer, sets: Record<string, LabelledText[]>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { model_id: scorer.modelId, model_version: scorer.modelVersion, max_length: scorer.maxLength, batch: FINBERT_BATCH };
  let texts = 0;
  let seconds = 0;
  for (const name of ['phrasebank_50agree', 'phrasebank_allagree', 'tweets_valid']) {
    const set = sets[name]!;
    const predicted: SentimentLabel[] = [];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < set.length; i += FINBERT_BATCH) {
      const scores = await scorer.scoreBatch(set.slice(i, i + FINBERT_BATCH).map((r) => r.text));
      predicted.push(...scores.map(argmaxLabel));
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    texts += set.length;
    seconds += s;
    out[name] = evaluate(
      set.map((r) => r.label),
      predicted,
    );
    progress(`finbert ${name}: macro-F1 ${(out[name] as { macro_f1: number }).macro_f1}, ${(set.length / s).toFixed(1)} texts/s`);
  }
  out.texts_per_s = round3(texts / seconds);
  return out;
}

async function tinyModelThroughput(texts: string[]): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'bp-bench-tinybert-'));
  try {
    await writeTinyBert(dir, 'bench/tiny-bert');
    const scorer = await loadFinbert({ modelsDir: dir, modelId: 'bench/tiny-bert' });
    const sample = texts.slice(0, 2048);
    const perBatch: Record<string, number> = {};
    for (const batch of [1, 8, 32, 128]) {
      const rates: number[] = [];
      for (let round = 0; round <= 3; round++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < sample.length; i += batch) await scorer.scoreBatch(sample.slice(i, i + batch));
        const rate = sample.length / (Number(process.hrtime.bigint() - t0) / 1e9);
        if (round > 0) rates.push(rate);
      }
      perBatch[`batch_${batch}`] = Math.round(median(rates));
      progress(`tiny test model, batch ${batch}: ${perBatch[`batch_${batch}`]} texts/s`);
    }
    return {
      note: 'generated 4-dim tiny BERT-shaped test model (tokenizer + one session run per batch + softmax); pipeline overhead only, NOT FinBERT speed or accuracy',
      model_version: scorer.modelVersion,
      texts: sample.length,
      max_length: scorer.maxLength,
      texts_per_s: perBatch,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const dataDir = process.env.BITPREDICT_DATA_DIR ?? resolve(REPO_ROOT, '../shared/data');
  const { tweets, sets } = loadSets(dataDir);
  const corpus = [...tweets, ...sets.phrasebank_50agree!.map((r) => r.text)];
  const chars = corpus.reduce((a, t) => a + t.length, 0);
  progress(
    `${corpus.length} texts (${tweets.length} bitcoin tweets + ${sets.phrasebank_50agree!.length} PhraseBank sentences), mean ${(chars / corpus.length).toFixed(0)} chars; ${PASSES} passes per round`,
  );

  const rates: number[] = [];
  const baseRates: number[] = [];
  let sink = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    for (let p = 0; p < PASSES; p++) for (const t of corpus) sink += scoreVader(t).compound;
    const rate = (corpus.length * PASSES) / (Number(process.hrtime.bigint() - t0) / 1e9);
    const t1 = process.hrtime.bigint();
    for (let p = 0; p < PASSES; p++) sink += bareTokenize(corpus);
    const base = (corpus.length * PASSES) / (Number(process.hrtime.bigint() - t1) / 1e9);
    progress(`${round === 0 ? 'warm-up' : `round ${round}`}: vader ${rate.toFixed(0)} texts/s, bare lower+split ${base.toFixed(0)} texts/s`);
    await new Promise((r) => setImmediate(r));
    if (round === 0) continue;
    rates.push(rate);
    baseRates.push(base);
  }
  const vaderPerS = median(rates);
  const basePerS = median(baseRates);
  // The package's own polarity_scores (same results, slow tokenizer), one pass, for reference.
  const tp = process.hrtime.bigint();
  for (const t of corpus) sink += vaderPackage.SentimentIntensityAnalyzer.polarity_scores(t).compound;
  const packagePerS = corpus.length / (Number(process.hrtime.bigint() - tp) / 1e9);
  progress(`vader-sentiment polarity_scores as shipped: ${packagePerS.toFixed(0)} texts/s`);

  if (!Number.isFinite(sink)) throw new Error('non-finite VADER sum');

  const vader: Record<string, Record<string, unknown>> = {};
  for (const [name, set] of Object.entries(sets)) {
    vader[name] = evaluate(
      set.map((r) => r.label),
      set.map((r) => vaderLabel(scoreVader(r.text).compound)),
    );
    progress(`vader ${name}: macro-F1 ${vader[name].macro_f1 as number}, accuracy ${vader[name].accuracy as number}`);
  }
  const btcShares = { positive: 0, neutral: 0, negative: 0 };
  for (const t of tweets) btcShares[vaderLabel(scoreVader(t).compound)]++;

  const modelsDir = process.env.BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR;
  const modelId = process.env.BITPREDICT_SENTIMENT_FINBERT_MODEL_ID ?? 'ProsusAI/finbert';
  let finbert: Record<string, unknown> | null = null;
  let tiny: Record<string, unknown> | null = null;
  if (modelsDir && modelId) {
    const dtype = process.env.BENCH_FINBERT_DTYPE === 'q8' ? 'q8' : 'fp32';
    const maxLength = process.env.BENCH_FINBERT_MAX_LENGTH ? Number(process.env.BENCH_FINBERT_MAX_LENGTH) : undefined;
    progress(`FinBERT ${modelId} (${dtype}) from ${modelsDir}`);
    finbert = await finbertFigures(await loadFinbert({ modelsDir, modelId, dtype, ...(maxLength ? { maxLength } : {}) }), sets);
  } else {
    progress('no BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR: finbert null; timing the tiny generated test model instead');
    tiny = await tinyModelThroughput(corpus);
  }

  return {
    vader_version: VADER_VERSION,
    vader_label_rule: 'compound >= 0.05 positive, <= -0.05 negative, else neutral',
    vader_max_chars: VADER_MAX_CHARS,
    texts: corpus.length,
    rounds: ROUNDS,
    passes_per_round: PASSES,
    vader_texts_per_s: Math.round(vaderPerS),
    baseline_texts_per_s: Math.round(basePerS),
    vader_package_polarity_scores_texts_per_s: Math.round(packagePerS),
    baseline: 'lower-case + split on whitespace, same texts',
    ratio: Number((vaderPerS / basePerS).toFixed(4)),
    goal_vader_texts_per_s: 10_000,
    vader_macro_f1_phrasebank: vader.phrasebank_50agree!.macro_f1,
    vader_macro_f1_phrasebank_allagree: vader.phrasebank_allagree!.macro_f1,
    vader_macro_f1_tweets: vader.tweets_valid!.macro_f1,
    vader_macro_f1_tweets_train: vader.tweets_train!.macro_f1,
    vader_eval: vader,
    vader_btc_tweets_label_shares: Object.fromEntries(Object.entries(btcShares).map(([k, v]) => [k, round3(v / tweets.length)])),
    finbert,
    tiny_test_model: tiny,
  };
}
