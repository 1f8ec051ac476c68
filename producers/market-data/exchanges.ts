// The two exchange streams: what to subscribe to, and what each frame means for the series.
// Binance sends closed klines, published as they are. Coinbase sends trades, built into candles in
// event time; a (re)connect leaves the candle in progress incomplete, so it is fetched from REST
// once it has closed. Every frame is handled as a task on the service's serial queue, after the
// gap fill its connect enqueued, so candles of a key are published in openTime order.
import type { Logger } from '../../core/logger.js';
import type { Config } from '../../core/config.js';
import { binanceStreamSymbol, createCandleBuilder, lastClosedOpenTime, parseBinanceFrame, parseCoinbaseFrame, type CandleBuilder } from './domain/index.js';
import type { GapFiller } from './gap-fill.js';
import type { MarketDataMetrics } from './metrics.js';
import type { Series } from './series.js';
import type { CandleSink } from './sink.js';

export interface StreamDeps {
  /** The series of this exchange. */
  series: Series[];
  market: Pick<Config['market'], 'binance' | 'coinbase' | 'graceMs'>;
  futureToleranceMs: number;
  /** Exchange-time clock. */
  now: () => number;
  logger: Logger;
  metrics: MarketDataMetrics;
  sink: CandleSink;
  fillGap: GapFiller;
  /** Runs a task on the service's serial queue. */
  enqueue(task: () => Promise<void> | void): void;
}

/** What the reconnecting socket of one exchange needs. */
export interface ExchangeStream {
  url: string;
  onOpen(): void;
  onMessage(raw: Buffer): void;
}

export function binanceStream(deps: StreamDeps): ExchangeStream {
  const { series, metrics, sink, enqueue } = deps;
  const byKey = new Map(series.map((x) => [`${x.remote}|${x.interval}`, x]));
  const streams = series.map((s) => `${binanceStreamSymbol(s.remote)}@kline_${s.interval}`);
  for (const sym of new Set(series.map((s) => binanceStreamSymbol(s.remote)))) streams.push(`${sym}@trade`);
  return {
    url: `${deps.market.binance.wsUrl}/stream?streams=${streams.join('/')}`,
    onOpen() {
      metrics.connected.set({ exchange: 'binance' }, 1);
      for (const s of series) enqueue(() => deps.fillGap(s, lastClosedOpenTime(deps.now(), s.len)));
    },
    onMessage(raw) {
      enqueue(async () => {
        const parsed = parseBinanceFrame(raw.toString('utf8'));
        if (!parsed.ok) {
          await sink.reject('binance', 'ws', 'binance-ws', raw, 'ERR_VALIDATION', parsed.reason);
          return;
        }
        const f = parsed.value;
        if (f.kind === 'trade') metrics.trades.inc({ exchange: 'binance', outcome: 'seen' });
        if (f.kind !== 'kline' || !f.closed) return;
        const s = byKey.get(`${f.candle.symbol}|${f.candle.interval}`);
        if (s) await sink.publish(s, [f.candle], 'ws', 'binance-ws', raw);
      });
    },
  };
}

export function coinbaseStream(deps: StreamDeps & { send(text: string): void }): ExchangeStream {
  const { series, metrics, sink, enqueue, logger } = deps;
  const m = deps.market;

  async function afterWatermark(s: Series, raw: Buffer): Promise<void> {
    const b = s.builder as CandleBuilder;
    if (s.pendingFill !== null && b.watermark >= s.pendingFill + s.len + m.graceMs) {
      const upTo = s.pendingFill;
      s.pendingFill = null;
      await deps.fillGap(s, upTo);
    }
    const closed = b.takeClosed();
    if (closed.length > 0) await sink.publish(s, closed, 'ws', 'coinbase-ws', raw);
  }

  return {
    url: m.coinbase.wsUrl,
    onOpen() {
      metrics.connected.set({ exchange: 'coinbase' }, 1);
      deps.send(JSON.stringify({ type: 'subscribe', product_ids: [...new Set(series.map((s) => s.remote))], channels: ['matches', 'heartbeat'] }));
      for (const s of series) {
        // Trades were missed while disconnected, so the candle in progress is incomplete: the new
        // builder starts with the next candle, and this one is fetched from REST once it closes.
        const current = lastClosedOpenTime(deps.now(), s.len) + s.len;
        s.builder = createCandleBuilder({
          symbol: s.symbol,
          interval: s.interval,
          exchange: 'coinbase',
          source: 'coinbase-ws',
          graceMs: m.graceMs,
          startFrom: current + s.len,
        });
        s.pendingFill = current;
        enqueue(() => deps.fillGap(s, current - s.len));
      }
    },
    onMessage(raw) {
      enqueue(async () => {
        const parsed = parseCoinbaseFrame(raw.toString('utf8'));
        if (!parsed.ok) {
          await sink.reject('coinbase', 'ws', 'coinbase-ws', raw, 'ERR_VALIDATION', parsed.reason);
          return;
        }
        const f = parsed.value;
        if (f.kind === 'error') {
          logger.error({ message: f.message }, 'Coinbase feed reported an error');
          return;
        }
        if (f.kind === 'subscriptions') return;
        const time = f.kind === 'match' ? f.trade.time : f.time;
        // A future-dated trade would push the watermark ahead and close every open candle early.
        if (time > deps.now() + deps.futureToleranceMs) {
          await sink.reject('coinbase', 'ws', 'coinbase-ws', raw, 'ERR_VALIDATION', `time ${new Date(time).toISOString()} is in the future`);
          return;
        }
        for (const s of series) {
          if (s.remote !== f.productId || !s.builder) continue;
          if (f.kind === 'match') {
            const outcome = s.builder.add(f.trade);
            metrics.trades.inc({ exchange: 'coinbase', outcome });
            if (outcome === 'late') metrics.late.inc({ exchange: 'coinbase' });
          } else {
            s.builder.advance(f.time);
          }
          await afterWatermark(s, raw);
        }
      });
    },
  };
}
