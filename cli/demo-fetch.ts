// The demo's candle fetch (no data folder): `bitpredict data fetch` into the demo's file, its
// progress as [demo] lines, and the whole file's range (a resumed fetch may add nothing new).
import { readFileSync } from 'node:fs';
import { fetchCandlesToFile } from '../producers/market-data/history.js';
import type { FetchCandles, FetchedCandles } from './demo-data.js';

export const fetchForDemo: FetchCandles = async (o): Promise<FetchedCandles> => {
  let said = 0;
  const s = await fetchCandlesToFile({
    exchange: o.exchange,
    symbol: o.symbol,
    interval: o.interval,
    from: o.from,
    to: o.to,
    out: o.out,
    restUrl: o.restUrl,
    signal: o.signal,
    // At start-up a person is waiting: an exchange that does not answer fails in seconds, not minutes.
    maxRetries: 3,
    backoffMaxMs: 2000,
    timeoutMs: 10_000,
    onProgress: (p) => {
      if (Date.now() - said < 2000 && p.done < p.total) return;
      said = Date.now();
      o.onProgress(`  ${p.rowsWritten} candles fetched (${Math.floor((100 * p.done) / Math.max(1, p.total))} % of the range, ${p.requests} requests)`);
    },
    onNote: (line) => o.onProgress(`  ${line}`),
  });
  const rows = readFileSync(o.out, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '');
  const openTime = (line: string | undefined): number | null => (line === undefined ? null : Number(line.split(',')[0]));
  o.onProgress(
    `fetched ${s.rowsWritten} new candles${s.resumedAfter === null ? '' : ` after ${s.resumedAfter} (the file held the rest)`}; ${rows.length} in ${o.out}, ` +
      `${s.gaps.count} gaps (${s.gaps.missingCandles} candles missing at the exchange), ${s.unfinished} unfinished left out, ${s.rejected} rejected`,
  );
  return { file: o.out, rows: rows.length, first: openTime(rows[0]), last: openTime(rows[rows.length - 1]), gaps: s.gaps.count };
};
