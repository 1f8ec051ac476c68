// The real text files of the data folder (../shared/data, README section 2), relative to it. One
// list for every path that reads text, so the demo's replay and the research paths (train,
// evaluate, backtest) see the same texts.

/** Each file and the stretch of time it covers (README 2a-2d). */
export const TEXT_DATA_FILE = {
  /** 2c: news descriptions, to the minute, 2021-11 .. 2023-12 (later rows are excluded by the reader). */
  descriptions: 'bitcoin_news_descriptions_2021_2024/bitcoin_sentiments_21_24.csv',
  /** 2d: CoinDesk headlines 2013-04 .. 2025-06, ~400 a year bunched at the end of 90-day windows. */
  headlines: 'coindesk_bitcoin_headlines_2013_2025/bitcoin_news.csv',
  /** 2b: crypto news titles and summaries 2021-10 .. 2022-07. */
  news: 'crypto_news_2021_2022/cryptonews.csv',
  /** 2a: tweets 2025-08-15 .. 2025-09-15. */
  tweets: 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv',
} as const;

/**
 * Every real text file. The descriptions are the only text over the whole of 2023 (inside the
 * hourly training range 2022-12 .. 2024-12); the others add 2021-22, sparse years and 2025.
 */
export const TEXT_DATA_FILES: readonly string[] = [TEXT_DATA_FILE.news, TEXT_DATA_FILE.descriptions, TEXT_DATA_FILE.headlines, TEXT_DATA_FILE.tweets];
