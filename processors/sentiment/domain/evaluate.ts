// Accuracy of sentiment scorers on labelled sets: 3-class confusion matrix, per-class
// precision/recall/F1, accuracy and macro-F1, plus parsers for the two labelled sets. Pure: the
// caller reads the files (Financial PhraseBank 50/66/75Agree are Latin-1, our AllAgree copy is
// UTF-8: see phrasebankEncoding) and passes the decoded text in.
import { parse } from 'csv-parse/sync';
import { BitPredictError } from '../../../core/errors.js';

export type SentimentLabel = 'negative' | 'neutral' | 'positive';
/** Row/column order of every confusion matrix. */
export const SENTIMENT_LABELS: readonly SentimentLabel[] = ['negative', 'neutral', 'positive'];
export interface LabelledText {
  text: string;
  label: SentimentLabel;
}

/** VADER's own rule (Hutto & Gilbert): compound >= 0.05 positive, <= -0.05 negative, else neutral. */
export const VADER_THRESHOLD = 0.05;
export function vaderLabel(compound: number): SentimentLabel {
  if (compound >= VADER_THRESHOLD) return 'positive';
  if (compound <= -VADER_THRESHOLD) return 'negative';
  return 'neutral';
}

/** The most probable class of a probability triple (ties: neutral, then negative, then positive). */
export function argmaxLabel(p: { positive: number; negative: number; neutral: number }): SentimentLabel {
  if (p.neutral >= p.negative && p.neutral >= p.positive) return 'neutral';
  return p.negative >= p.positive ? 'negative' : 'positive';
}

export interface ConfusionMatrix {
  labels: readonly SentimentLabel[];
  /** matrix[actual][predicted], indices as in labels. */
  matrix: number[][];
  total: number;
}

export function confusionMatrix(actual: readonly SentimentLabel[], predicted: readonly SentimentLabel[]): ConfusionMatrix {
  if (actual.length !== predicted.length) {
    throw new BitPredictError('ERR_VALIDATION', `confusionMatrix: actual has ${actual.length} labels, predicted has ${predicted.length}`);
  }
  const matrix = SENTIMENT_LABELS.map(() => SENTIMENT_LABELS.map(() => 0));
  for (let i = 0; i < actual.length; i++) {
    const a = SENTIMENT_LABELS.indexOf(actual[i]!);
    const p = SENTIMENT_LABELS.indexOf(predicted[i]!);
    if (a < 0 || p < 0)
      throw new BitPredictError('ERR_VALIDATION', `confusionMatrix: bad label at ${i}: actual ${String(actual[i])}, predicted ${String(predicted[i])}`);
    matrix[a]![p]!++;
  }
  return { labels: SENTIMENT_LABELS, matrix, total: actual.length };
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}
export interface ClassificationMetrics {
  accuracy: number;
  macroF1: number;
  perClass: Record<SentimentLabel, ClassMetrics>;
}

/** Precision, recall and F1 per class; a class never predicted (or absent) gets 0 there, as sklearn's zero_division=0. */
export function classificationMetrics(cm: ConfusionMatrix): ClassificationMetrics {
  const n = cm.labels.length;
  let correct = 0;
  const perClass = {} as Record<SentimentLabel, ClassMetrics>;
  let f1Sum = 0;
  for (let k = 0; k < n; k++) {
    const tp = cm.matrix[k]![k]!;
    correct += tp;
    let predicted = 0;
    let support = 0;
    for (let j = 0; j < n; j++) {
      predicted += cm.matrix[j]![k]!;
      support += cm.matrix[k]![j]!;
    }
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[cm.labels[k]!] = { precision, recall, f1, support };
    f1Sum += f1;
  }
  return { accuracy: cm.total === 0 ? 0 : correct / cm.total, macroF1: f1Sum / n, perClass };
}

/** File encoding of a Financial PhraseBank v1.0 file as stored in shared/data. */
export function phrasebankEncoding(fileName: string): 'latin1' | 'utf8' {
  return /AllAgree/i.test(fileName) ? 'utf8' : 'latin1';
}

/** `sentence@label` per line (label positive|neutral|negative); the LAST '@' separates. Blank lines skipped. */
export function parsePhraseBank(content: string): LabelledText[] {
  const out: LabelledText[] = [];
  const lines = content.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const at = line.lastIndexOf('@');
    const label =
      at < 0
        ? ''
        : line
            .slice(at + 1)
            .trim()
            .toLowerCase();
    if (label !== 'positive' && label !== 'negative' && label !== 'neutral') {
      throw new BitPredictError(
        'ERR_VALIDATION',
        `PhraseBank line ${i + 1}: expected "sentence@positive|neutral|negative", got ${JSON.stringify(line.slice(-60))}`,
      );
    }
    out.push({ text: line.slice(0, at).trim(), label });
  });
  return out;
}

/** twitter-financial-news-sentiment CSV (header text,label): 0 Bearish = negative, 1 Bullish = positive, 2 Neutral. */
export const TWITTER_LABELS: Record<string, SentimentLabel> = { '0': 'negative', '1': 'positive', '2': 'neutral' };
export function parseTwitterFinancialCsv(content: string): LabelledText[] {
  const rows = parse<Record<string, string>>(content, { columns: true, skip_empty_lines: true, bom: true });
  return rows.map((row, i) => {
    const label = TWITTER_LABELS[(row.label ?? '').trim()];
    if (row.text === undefined || label === undefined) {
      throw new BitPredictError('ERR_VALIDATION', `twitter sentiment CSV row ${i + 1}: need text and label 0|1|2, got label ${JSON.stringify(row.label)}`);
    }
    return { text: row.text, label };
  });
}
