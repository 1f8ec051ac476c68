// Types for the untyped CommonJS package vader-sentiment 1.1.3 (only what we use).
declare module 'vader-sentiment' {
  interface PolarityScores {
    neg: number;
    neu: number;
    pos: number;
    compound: number;
  }
  /** What sentiment_valence reads of the package's (unexported) SentiText. */
  interface SentiTextLike {
    text: string;
    words_and_emoticons: string[];
    is_cap_diff: boolean;
  }
  const vader: {
    SentimentIntensityAnalyzer: {
      polarity_scores(text: string): PolarityScores;
      sentiment_valence(valence: number, sentiText: SentiTextLike, item: string, index: number, sentiments: number[]): number[];
      but_check(words: string[], sentiments: number[]): number[];
      score_valence(sentiments: number[], text: string): PolarityScores;
    };
  };
  export default vader;
}
