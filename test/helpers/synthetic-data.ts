// A data folder with SYNTHETIC hourly candles, laid out like the real one (../shared/data) under
// the default file names, for tests of final-window runs: a test must never compute figures on the
// real final evaluation window (hourly data from 2025-01-01), but the code paths that run there
// (evaluate --purpose final, a backtest past 2025-01-01, the final-window ledger) need testing.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HOUR = 3_600_000;

/**
 * A temp data folder: a seeded random walk of hourly candles over [from, to) in the merged Binance
 * CSV format (btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv, plus the extra
 * last row that file's reader drops as in-progress), and header-only text files (every one of TEXT_DATA_FILES).
 */
export function syntheticDataDir(from = Date.UTC(2024, 7, 1), to = Date.UTC(2025, 1, 1), seed = 12345): string {
  const dir = mkdtempSync(join(tmpdir(), 'bp-synthetic-data-'));
  const rows = ['open_time_ms,open_time_utc,open,high,low,close,volume_btc,source_folder'];
  let state = seed;
  const rand = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  const utc = (t: number): string => new Date(t).toISOString().slice(0, 19).replace('T', ' ');
  let price = 60_000;
  for (let t = from; t <= to; t += HOUR) {
    const open = price;
    price *= Math.exp(0.01 * rand());
    const high = Math.max(open, price) * 1.001;
    const low = Math.min(open, price) * 0.999;
    rows.push(`${t},${utc(t)},${open.toFixed(2)},${high.toFixed(2)},${low.toFixed(2)},${price.toFixed(2)},${(10 + 5 * rand()).toFixed(4)},synthetic`);
  }
  const file = (path: string, text: string): void => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  file('btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv', `${rows.join('\n')}\n`);
  file('crypto_news_2021_2022/cryptonews.csv', 'date;sentiment;source;subject;text;title;url\n');
  file(
    'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv',
    'id,text,user,created_at,retweet_count,favorite_count,reply_count,date,text_length\n',
  );
  file('bitcoin_news_descriptions_2021_2024/bitcoin_sentiments_21_24.csv', 'Date,Short Description,Accurate Sentiments\n');
  file('coindesk_bitcoin_headlines_2013_2025/bitcoin_news.csv', 'Publish Date,headline,link\n');
  return dir;
}
