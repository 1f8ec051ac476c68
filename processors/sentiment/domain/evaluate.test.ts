import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BitPredictError } from '../../../core/errors.js';
import {
  argmaxLabel,
  classificationMetrics,
  confusionMatrix,
  parsePhraseBank,
  parseTwitterFinancialCsv,
  phrasebankEncoding,
  vaderLabel,
  type SentimentLabel,
} from './evaluate.js';
import { hasSharedData, SHARED_DATA_DIR } from '../../../test/helpers/shared-data.js';

const DATA = SHARED_DATA_DIR;
const PHRASEBANK_50 = 'financial_phrasebank_v1.0/Sentences_50Agree.txt';
const PHRASEBANK_ALL = 'financial_phrasebank_v1.0/Sentences_AllAgree.txt';
const TWITTER_VALID = 'twitter_financial_news_sentiment/sent_valid.csv';

describe('confusion matrix and macro-F1', () => {
  // Worked by hand. Rows actual, columns predicted, order negative, neutral, positive:
  //   negative [1 0 1]   neutral [1 3 1]   positive [0 1 2]
  // negative P 1/2 R 1/2 F1 1/2; neutral P 3/4 R 3/5 F1 2/3; positive P 2/4 R 2/3 F1 4/7.
  // macro-F1 = (1/2 + 2/3 + 4/7) / 3 = 73/126; accuracy 6/10.
  const P: SentimentLabel = 'positive',
    N: SentimentLabel = 'negative',
    U: SentimentLabel = 'neutral';
  const actual = [P, P, P, N, N, U, U, U, U, U];
  const predicted = [P, U, P, N, P, U, U, N, U, P];

  it('counts actual x predicted', () => {
    const cm = confusionMatrix(actual, predicted);
    expect(cm.labels).toEqual(['negative', 'neutral', 'positive']);
    expect(cm.matrix).toEqual([
      [1, 0, 1],
      [1, 3, 1],
      [0, 1, 2],
    ]);
    expect(cm.total).toBe(10);
  });

  it('computes per-class figures, accuracy and macro-F1', () => {
    const m = classificationMetrics(confusionMatrix(actual, predicted));
    expect(m.accuracy).toBeCloseTo(0.6, 12);
    expect(m.macroF1).toBeCloseTo(73 / 126, 12);
    expect(m.perClass.negative).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(m.perClass.neutral.precision).toBeCloseTo(0.75, 12);
    expect(m.perClass.neutral.recall).toBeCloseTo(0.6, 12);
    expect(m.perClass.positive.f1).toBeCloseTo(4 / 7, 12);
  });

  it('gives 0 (not NaN) for a class never predicted, and rejects mismatched or bad input', () => {
    const m = classificationMetrics(confusionMatrix([P, N, U], [U, U, U]));
    expect(m.perClass.positive).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(m.macroF1).toBeCloseTo(0.5 / 3, 12); // neutral P 1/3 R 1 F1 1/2
    expect(() => confusionMatrix([P], [])).toThrow(BitPredictError);
    expect(() => confusionMatrix([P], ['bullish' as SentimentLabel])).toThrow(/bad label/);
  });

  it('labels VADER compound with the +-0.05 rule and probabilities by argmax', () => {
    expect([0.05, 0.0499, 0, -0.0499, -0.05].map(vaderLabel)).toEqual(['positive', 'neutral', 'neutral', 'neutral', 'negative']);
    expect(argmaxLabel({ positive: 0.5, negative: 0.3, neutral: 0.2 })).toBe('positive');
    expect(argmaxLabel({ positive: 0.2, negative: 0.5, neutral: 0.3 })).toBe('negative');
    expect(argmaxLabel({ positive: 0.2, negative: 0.2, neutral: 0.6 })).toBe('neutral');
  });
});

describe('labelled set parsers', () => {
  it('parses PhraseBank lines on the last @ and rejects a bad label', () => {
    expect(parsePhraseBank('Shares rose @ 5 % .@positive\r\n\nA loss.@negative\n')).toEqual([
      { text: 'Shares rose @ 5 % .', label: 'positive' },
      { text: 'A loss.', label: 'negative' },
    ]);
    expect(() => parsePhraseBank('ok@neutral\nno label here')).toThrow(/line 2/);
  });

  it.skipIf(!hasSharedData(PHRASEBANK_50, PHRASEBANK_ALL))('reads the real 50Agree (Latin-1) and AllAgree (UTF-8) files with the published counts', () => {
    const count = (file: string): Record<string, number> => {
      const rows = parsePhraseBank(readFileSync(resolve(DATA, 'financial_phrasebank_v1.0', file), phrasebankEncoding(file)));
      const c: Record<string, number> = { total: rows.length, negative: 0, neutral: 0, positive: 0 };
      for (const r of rows) c[r.label]!++;
      if (rows.some((r) => r.text.includes('\uFFFD'))) c.replacementChars = 1;
      return c;
    };
    expect(phrasebankEncoding('Sentences_50Agree.txt')).toBe('latin1');
    expect(phrasebankEncoding('Sentences_AllAgree.txt')).toBe('utf8');
    expect(count('Sentences_50Agree.txt')).toEqual({ total: 4846, negative: 604, neutral: 2879, positive: 1363 });
    expect(count('Sentences_AllAgree.txt')).toEqual({ total: 2264, negative: 303, neutral: 1391, positive: 570 });
  });

  it('parses the twitter financial CSV (quoted newlines) and maps 0/1/2 to negative/positive/neutral', () => {
    expect(parseTwitterFinancialCsv('text,label\n"a, b\nc",0\nup,1\nflat,2\n')).toEqual([
      { text: 'a, b\nc', label: 'negative' },
      { text: 'up', label: 'positive' },
      { text: 'flat', label: 'neutral' },
    ]);
    expect(() => parseTwitterFinancialCsv('text,label\nx,3\n')).toThrow(/row 1/);
  });

  it.skipIf(!hasSharedData(TWITTER_VALID))('reads the real twitter financial valid set with the published counts', () => {
    const rows = parseTwitterFinancialCsv(readFileSync(resolve(DATA, TWITTER_VALID), 'utf8'));
    const c = { negative: 0, positive: 0, neutral: 0 };
    for (const r of rows) c[r.label]++;
    expect(rows.length).toBe(2388);
    expect(c).toEqual({ negative: 347, positive: 475, neutral: 1566 });
  });
});
