// REST gap fill: every closed candle after the last published one of a series, up to a given open
// time, fetched page by page from the exchange's REST API and published through the sink. An
// answer that is an error or does not parse goes to the DLQ and ends that fill; the next connect
// plans the gap again.
import type { Logger } from '../../core/logger.js';
import type { Config } from '../../core/config.js';
import { pageGap, parseBinanceKlines, parseCoinbaseCandles, planGap, type CandleDraft, type Exchange, type Parsed } from './domain/index.js';
import { getJson, type RestDeps } from './rest.js';
import type { MarketDataMetrics } from './metrics.js';
import { COINBASE_GRANULARITY, type Series } from './series.js';
import type { CandleSink } from './sink.js';

/** Candles per REST request, the most each exchange serves. */
const PAGE = { binance: 1000, coinbase: 300 } as const;

export type GapFiller = (s: Series, upTo: number) => Promise<void>;

export function createGapFiller(deps: {
  market: Pick<Config['market'], 'binance' | 'coinbase' | 'reconnectBaseMs' | 'reconnectMaxMs'>;
  logger: Logger;
  metrics: MarketDataMetrics;
  random: () => number;
  /** Aborted when the service stops: retries end. */
  signal: AbortSignal;
  sink: CandleSink;
}): GapFiller {
  const { market: m, logger, sink } = deps;

  const restDeps = (exchange: Exchange): RestDeps => ({
    logger,
    errors: deps.metrics.restErrors,
    exchange,
    baseMs: m.reconnectBaseMs,
    maxMs: m.reconnectMaxMs,
    random: deps.random,
    signal: deps.signal,
  });

  const pageUrl = (s: Series, page: { from: number; to: number }): string =>
    s.exchange === 'binance'
      ? `${m.binance.restUrl}/api/v3/klines?symbol=${s.remote}&interval=${s.interval}&startTime=${page.from}&endTime=${page.to + s.len - 1}&limit=${PAGE.binance}`
      : `${m.coinbase.restUrl}/products/${s.remote}/candles?granularity=${COINBASE_GRANULARITY[s.interval]}&start=${new Date(page.from).toISOString()}&end=${new Date(page.to).toISOString()}`;

  /** Publishes from REST every closed candle after the last published one, up to openTime `upTo`. */
  return async function fillGap(s: Series, upTo: number): Promise<void> {
    const plan = planGap(sink.last.get(s.key) ?? null, upTo, s.len);
    if (!plan) return;
    logger.info({ key: s.key, exchange: s.exchange, from: new Date(plan.from).toISOString(), candles: plan.count }, 'filling gap from REST');
    for (const page of pageGap(plan, s.len, PAGE[s.exchange])) {
      const url = pageUrl(s, page);
      const res = await getJson(url, restDeps(s.exchange));
      if (!res.ok) {
        await sink.reject(s.exchange, 'http', url, res.raw, 'ERR_MALFORMED_INPUT', res.reason);
        return;
      }
      const parsed: Parsed<CandleDraft[]> =
        s.exchange === 'binance' ? parseBinanceKlines(res.body, s.symbol, s.interval) : parseCoinbaseCandles(res.body, s.symbol, s.interval);
      if (!parsed.ok) {
        await sink.reject(s.exchange, 'http', url, Buffer.from(JSON.stringify(res.body)), 'ERR_VALIDATION', parsed.reason);
        return;
      }
      // Exchanges may include the candle still open or rows outside the asked window.
      await sink.publish(
        s,
        parsed.value.filter((c) => c.openTime >= page.from && c.openTime <= page.to),
        'rest',
        url,
        null,
      );
    }
  };
}
