import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import vader from 'vader-sentiment';
import { BitPredictError } from '../errors.js';
import { hasSharedData, SHARED_DATA_DIR } from '../../test/helpers/shared-data.js';
import { VADER_MAX_CHARS, VADER_VERSION, capText, polarityScores, scoreVader, textForVader, wordsAndEmoticons } from './vader.js';

const DATA = SHARED_DATA_DIR;
const HAS_TEXTS = hasSharedData(
  'financial_phrasebank_v1.0/Sentences_50Agree.txt',
  'twitter_financial_news_sentiment/sent_valid.csv',
  'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv',
  'crypto_news_2021_2022/cryptonews.csv',
);
const reference = (text: string): unknown => vader.SentimentIntensityAnalyzer.polarity_scores(text);

describe('polarityScores (fast tokenization) equals vader-sentiment polarity_scores', () => {
  it('on hand-made edge cases: punctuation runs, caps, boosters, kind of, but, negation, emoticons', () => {
    const cases = [
      '',
      ' ',
      'a',
      'GOOD',
      'good!',
      '!good',
      '!!!good???',
      '?!?good',
      'good?!?!',
      '"good"',
      "'good'",
      'good,',
      ',good',
      '-good-',
      'good...',
      '...good',
      '#good',
      'good#',
      '$good',
      '@good!',
      'The food is GREAT, but the service is BAD!!!',
      'It is kind of good',
      'it was sort of bad',
      'kinda great :)',
      'not very good at all',
      'never so good',
      "I don't think it's great",
      'least good',
      'at least good',
      'very much not bad :(',
      'Absolutely!!! AMAZING!!!',
      'profit up 5% to EUR 3.2 mn , from EUR 1.1 mn .',
      'Bitcoin crashed :( and $BTC holders are sad?!?',
      'no no no',
      'uh-uh bad',
      'the shit',
      'yeah right',
      'kiss of death, bad ass',
      'good good good good good good good good good',
      'constructor __proto__ hasOwnProperty toString',
      'good\tbad\ngood\u00a0bad',
      '😂🚀 great 🚀',
      'SUPER GOOD but not great',
    ];
    for (const t of cases) expect({ t, s: polarityScores(t) }).toEqual({ t, s: reference(t) });
  });

  it('on every text of PhraseBank 50Agree, the twitter valid set, the bitcoin tweets and 2,000 news items', (context) => {
    context.skip(!HAS_TEXTS, 'real data missing (see the skipped: line above)');
    const texts: string[] = [
      ...readFileSync(resolve(DATA, 'financial_phrasebank_v1.0/Sentences_50Agree.txt'), 'latin1').split('\n'),
      ...parse<Record<string, string>>(readFileSync(resolve(DATA, 'twitter_financial_news_sentiment/sent_valid.csv'), 'utf8'), { columns: true }).map(
        (r) => r.text ?? '',
      ),
      ...parse<Record<string, string>>(readFileSync(resolve(DATA, 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv'), 'utf8'), {
        columns: true,
      }).map((r) => r.text ?? ''),
      ...parse<Record<string, string>>(readFileSync(resolve(DATA, 'crypto_news_2021_2022/cryptonews.csv'), 'utf8'), { columns: true, delimiter: ';' })
        .slice(0, 2000)
        .map((r) => `${r.title ?? ''}. ${r.text ?? ''}`),
    ];
    expect(texts.length).toBeGreaterThan(13_000);
    const mismatches = texts.filter((t) => JSON.stringify(polarityScores(t)) !== JSON.stringify(reference(t)));
    expect(mismatches.slice(0, 5)).toEqual([]);
  }, 60_000);

  it("strips one leading or trailing punctuation mark (or run from VADER's list) when the rest is a word", () => {
    expect(wordsAndEmoticons('"Great!" said (he) #btc, !?!wow ok')).toEqual(['"Great!"', 'said', '(he)', '#btc,', 'wow', 'ok']);
    expect(wordsAndEmoticons('good, bad... !!!')).toEqual(['good', 'bad...', '!!!']);
  });
});

describe('scoreVader', () => {
  it('gives the published VADER values for the reference sentences', () => {
    // From the VADER README (Hutto & Gilbert); the JS port reproduces the Python figures.
    expect(scoreVader('VADER is smart, handsome, and funny.')).toEqual({ compound: 0.8316, pos: 0.746, neu: 0.254, neg: 0 });
    expect(scoreVader('VADER is not smart, handsome, nor funny.')).toEqual({ compound: -0.7424, pos: 0, neu: 0.354, neg: 0.646 });
  });

  it('scores financial sentences in the expected direction', () => {
    expect(scoreVader('The profit rose sharply.')).toEqual({ compound: 0.4404, pos: 0.492, neu: 0.508, neg: 0 });
    expect(scoreVader('The company reported a loss.')).toEqual({ compound: -0.3182, pos: 0, neu: 0.566, neg: 0.434 });
    expect(scoreVader('Bitcoin crashed :(').compound).toBeLessThan(-0.05);
  });

  it('handles empty, odd unicode, lone surrogates and prototype-named words without throwing', () => {
    for (const text of ['', '   ', '😂🚀🚀', '\u0000\uD800 \uDFFF', 'constructor __proto__ toString', '\u202e\u200b', 'x'.repeat(50)]) {
      const s = scoreVader(text);
      for (const v of [s.compound, s.pos, s.neu, s.neg]) expect(Number.isFinite(v)).toBe(true);
      expect(Math.abs(s.compound)).toBeLessThanOrEqual(1);
    }
    expect(scoreVader('')).toEqual({ compound: 0, pos: 0, neu: 0, neg: 0 });
    expect(scoreVader(undefined as unknown as string)).toEqual({ compound: 0, pos: 0, neu: 0, neg: 0 });
  });

  it('scores only the first VADER_MAX_CHARS characters of a huge text', () => {
    const head = 'great profit, wonderful news! '.repeat(Math.ceil(VADER_MAX_CHARS / 30));
    const huge = capText(head) + ' terrible awful horrible disaster'.repeat(10_000);
    expect(scoreVader(huge)).toEqual(scoreVader(capText(head)));
    expect(scoreVader(huge).compound).toBeGreaterThan(0.9);
  });

  it('capText never splits a surrogate pair', () => {
    const s = 'a'.repeat(9) + '😀'; // the emoji occupies units 9 and 10
    expect(capText(s, 10)).toBe('a'.repeat(9));
    expect(capText(s, 11)).toBe(s);
    expect(capText('abc', 10)).toBe('abc');
  });

  it('VADER_VERSION names the installed package version', () => {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('vader-sentiment/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
    expect(VADER_VERSION).toBe(`vader-sentiment-${pkg.version}`);
  });
});

describe('textForVader', () => {
  it('joins a news title and text, falls back to whichever exists', () => {
    expect(textForVader({ kind: 'news', title: 'BTC surges', text: 'Prices rose.' })).toBe('BTC surges. Prices rose.');
    expect(textForVader({ kind: 'news', title: null, text: 'Body only' })).toBe('Body only');
    expect(textForVader({ kind: 'news', title: 'Title only', text: '  ' })).toBe('Title only');
  });

  it('uses a tweet text as it is and rejects unknown kinds', () => {
    expect(textForVader({ kind: 'tweet', title: 'ignored', text: 'gm bitcoin' })).toBe('gm bitcoin');
    expect(() => textForVader({ kind: 'blog', title: null, text: 'x' })).toThrow(BitPredictError);
    expect(() => textForVader({ kind: 'blog', title: null, text: 'x' })).toThrow(/kind.*"blog"/);
  });
});
