// VADER lexicon scoring (vader-sentiment 1.1.3, the JS port of Hutto & Gilbert's VADER). Pure.
// What we score: a tweet's text; a news item's title + ". " + text when both are non-empty (the
// headline carries most of the sentiment), else whichever exists. At most VADER_MAX_CHARS (10,000)
// characters are scored: VADER's cost grows with length and its compound score saturates long
// before that, so a huge text costs a bounded amount. Empty or whitespace-only text scores
// {compound 0, pos 0, neu 0, neg 0} (what VADER itself returns). Any non-finite output (never seen)
// is replaced by 0, and values are clamped to their ranges, so the Avro record is always valid.
//
// Speed: vader-sentiment's polarity_scores spends most of its time tokenizing: for every text it
// builds an object with 2 x 17 x words keys (each word with each punctuation mark before and
// after) only to strip leading/trailing punctuation from tokens, which caps it near 3.4k texts/s.
// polarityScores below does the same tokenization with a set lookup (the keys are punct + word,
// where words hold no punctuation, so a token's leading/trailing punctuation run decides it), then
// runs the package's own scoring rules (sentiment_valence, but_check, score_valence: lexicon,
// boosters, negation, idioms, caps, punctuation emphasis). Output is identical to
// polarity_scores; vader.test.ts checks that on every text of the labelled sets and the tweets.
import vader from 'vader-sentiment';
import { BitPredictError } from '../errors.js';
import type { TextItem, VaderScore } from '../../schemas/types.js';

/** Version of the VADER lexicon and rules; it names the installed package version. */
export const VADER_VERSION = 'vader-sentiment-1.1.3';
export const VADER_MAX_CHARS = 10_000;

const SIA = vader.SentimentIntensityAnalyzer;
// As in vader-sentiment 1.1.3 (vaderSentiment.js): the punctuation regex, PUNC_LIST, and the
// BOOSTER_DICT keys (the package exports none of them).
const REGEX_REMOVE_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
const PUNC_LIST = new Set(['.', '!', '?', ',', ';', ':', '-', "'", '"', '!!', '!!!', '??', '???', '?!?', '!?!', '?!?!', '!?!?']);
const PUNC_CHARS = new Set([...PUNC_LIST].join(''));
const BOOSTERS = new Set([
  'absolutely',
  'amazingly',
  'awfully',
  'completely',
  'considerably',
  'decidedly',
  'deeply',
  'effing',
  'enormously',
  'entirely',
  'especially',
  'exceptionally',
  'extremely',
  'fabulously',
  'flipping',
  'flippin',
  'fricking',
  'frickin',
  'frigging',
  'friggin',
  'fully',
  'fucking',
  'greatly',
  'hella',
  'highly',
  'hugely',
  'incredibly',
  'intensely',
  'majorly',
  'more',
  'most',
  'particularly',
  'purely',
  'quite',
  'really',
  'remarkably',
  'so',
  'substantially',
  'thoroughly',
  'totally',
  'tremendously',
  'uber',
  'unbelievably',
  'unusually',
  'utterly',
  'very',
  'almost',
  'barely',
  'hardly',
  'just enough',
  'kind of',
  'kinda',
  'kindof',
  'kind-of',
  'less',
  'little',
  'marginally',
  'occasionally',
  'partly',
  'scarcely',
  'slightly',
  'somewhat',
  'sort of',
  'sorta',
  'sortof',
  'sort-of',
]);
const isUpperPython = (word: string): boolean => word.length > 0 && /^[^a-z]*[A-Z]+[^a-z]*$/.test(word);

/** vader-sentiment's SentiText.get_words_and_emoticons, without its punctuation x word object. */
export function wordsAndEmoticons(text: string): string[] {
  const words = new Set(
    text
      .replace(REGEX_REMOVE_PUNCTUATION, '')
      .split(/\s/)
      .filter((w) => w.length > 1),
  );
  const tokens = text.split(/\s/).filter((t) => t.length > 1);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let lead = 0;
    while (lead < t.length && PUNC_CHARS.has(t[lead]!)) lead++;
    if (lead > 0 && PUNC_LIST.has(t.slice(0, lead)) && words.has(t.slice(lead))) {
      tokens[i] = t.slice(lead);
      continue;
    }
    let trail = 0;
    while (trail < t.length && PUNC_CHARS.has(t[t.length - 1 - trail]!)) trail++;
    if (trail > 0 && PUNC_LIST.has(t.slice(t.length - trail)) && words.has(t.slice(0, t.length - trail))) {
      tokens[i] = t.slice(0, t.length - trail);
    }
  }
  return tokens;
}

/** Same result as vader-sentiment's SentimentIntensityAnalyzer.polarity_scores(text), faster. */
export function polarityScores(text: string): { neg: number; neu: number; pos: number; compound: number } {
  const words = wordsAndEmoticons(text);
  let caps = 0;
  for (const w of words) if (isUpperPython(w)) caps++;
  const diff = words.length - caps;
  const sentiText = { text, words_and_emoticons: words, is_cap_diff: diff > 0 && diff < words.length };
  let sentiments: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const lower = words[i]!.toLowerCase();
    if ((i < words.length - 1 && lower === 'kind' && words[i + 1]!.toLowerCase() === 'of') || BOOSTERS.has(lower)) {
      sentiments.push(0);
      continue;
    }
    sentiments = SIA.sentiment_valence(0, sentiText, words[i]!, i, sentiments);
  }
  sentiments = SIA.but_check(words, sentiments);
  return SIA.score_valence(sentiments, text);
}

/** Cuts text to at most `max` UTF-16 units without splitting a surrogate pair. */
export function capText(text: string, max = VADER_MAX_CHARS): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

const clamp = (v: number, lo: number, hi: number): number => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : 0);

export function scoreVader(text: string): VaderScore {
  const input = capText(typeof text === 'string' ? text : '');
  const s = polarityScores(input);
  return {
    compound: clamp(s.compound, -1, 1),
    pos: clamp(s.pos, 0, 1),
    neu: clamp(s.neu, 0, 1),
    neg: clamp(s.neg, 0, 1),
  };
}

/** The text of a text.raw item that gets scored (by VADER and FinBERT alike). */
export function textForVader(item: Pick<TextItem, 'kind' | 'title' | 'text'>): string {
  const text = (item.text ?? '').trim();
  if (item.kind === 'tweet') return text;
  if (item.kind === 'news') {
    const title = (item.title ?? '').trim();
    if (title && text) return `${title}. ${text}`;
    return title || text;
  }
  throw new BitPredictError('ERR_VALIDATION', `text item kind must be "tweet" or "news", got ${JSON.stringify(item.kind)}`);
}
