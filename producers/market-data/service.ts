// Live market data: Binance closed klines and Coinbase trades (built into candles in event time)
// published to market.candles, with REST gap fill after every (re)connect and dedupe by the last
// published open time per key, initialised from the tail of market.candles so that a restart
// neither duplicates nor misses candles.
//
// Ordering: every frame, gap fill and publish runs on one serial task queue. A reconnect enqueues
// its gap fill before any frame of the new socket is handled, so candles of one key are always
// published in openTime order and "last published" is a single number per key.
import type { Platform } from '../../core/runtime.js';
import type { Logger } from '../../core/logger.js';
import type { Service, Readiness } from '../../core/service.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import { createProducer } from '../../core/kafka/producer.js';
import { deadLetterFromSource } from '../../core/kafka/dlq.js';
import { readTail } from '../../core/kafka/tail.js';
import { BitPredictError, errorMessage, isBitPredictError } from '../../core/errors.js';
import { counter, gauge } from '../../core/metrics.js';
import { validateCandle } from '../../core/domain/candle.js';
import { intervalMs } from '../../core/domain/intervals.js';
import type { Candle } from '../../schemas/types.js';
import {
  backoffDelay, binanceStreamSymbol, coinbaseProduct, coinbasePublishedSymbol, createCandleBuilder, lastClosedOpenTime, pageGap,
  parseBinanceFrame, parseBinanceKlines, parseCoinbaseCandles, parseCoinbaseFrame, planGap,
  type CandleBuilder, type CandleDraft, type Exchange, type Parsed,
} from './domain/index.js';
import { Aborted, getJson, sleep, type RestDeps } from './rest.js';
import { createReconnectingSocket, type ReconnectingSocket } from './socket.js';
import { seriesKey } from '../../schemas/keys.js';
import type { Config } from '../../core/config.js';

/** Coinbase candle granularities (seconds) by BitPredict interval; 4h has none. */
const COINBASE_GRANULARITY: Record<string, number> = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '1d': 86400 };
const PAGE = { binance: 1000, coinbase: 300 } as const;

export interface MarketDataOptions {
  platform: Platform;
  config: Pick<Config, 'events' | 'market'>;
  /** Shared producer; by default the service creates (and closes) its own. */
  producer?: Producer;
  /** Exchange-time clock used for gap planning and validation (tests drive it). Default Date.now. */
  now?: () => number;
  random?: () => number;
  onFatal?(err: BitPredictError): void;
}

export interface MarketDataService extends Service {
  /** Last published candle open time per key (symbol:interval). */
  lastPublished(): ReadonlyMap<string, number>;
  /** Resolves when every task queued so far (frames, gap fills, publishes) has finished. */
  idle(): Promise<void>;
}

interface Series {
  exchange: Exchange;
  /** Symbol of published candles (BTCUSDT for Binance, BTCUSD for Coinbase). */
  symbol: string;
  /** Exchange identifier: Binance symbol or Coinbase product. */
  remote: string;
  interval: string;
  len: number;
  key: string;
  builder: CandleBuilder | null;
  /** Coinbase: the candle in progress at the last connect, to fetch from REST once it closes. */
  pendingFill: number | null;
}

export async function createMarketDataService(opts: MarketDataOptions): Promise<MarketDataService> {
  const { platform } = opts;
  const { serde, registry } = platform;
  const { config } = opts;
  const m = config.market;
  const logger: Logger = platform.logger.child({ service: 'market-data' });
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const topic = platform.kafka.topic('candles');
  const dlqDeps = { serde, topicPrefix: platform.kafka.topicPrefix };

  const metrics = {
    candles: counter(registry, 'bitpredict_marketdata_candles_total', 'Candles published by live market data, by exchange and path (ws, rest)', ['exchange', 'path']),
    trades: counter(registry, 'bitpredict_marketdata_trades_total', 'Trades received, by exchange and outcome (accepted, duplicate, late, before-start, seen)', ['exchange', 'outcome']),
    late: counter(registry, 'bitpredict_marketdata_late_trades_total', 'Trades for a candle already closed by the watermark (dropped; REST is the source of truth)', ['exchange']),
    invalid: counter(registry, 'bitpredict_marketdata_invalid_frames_total', 'Frames or REST bodies that failed parsing or validation (sent to the DLQ)', ['exchange', 'reason']),
    restErrors: counter(registry, 'bitpredict_marketdata_rest_errors_total', 'REST gap-fill answers that were errors (429, 5xx, 4xx, network)', ['exchange', 'status']),
    reconnects: counter(registry, 'bitpredict_marketdata_disconnects_total', 'Exchange sockets lost (any reason, including heartbeat timeouts)', ['exchange']),
    gapCandles: counter(registry, 'bitpredict_marketdata_gap_candles_total', 'Candles published by REST gap fill', ['exchange']),
    skipped: counter(registry, 'bitpredict_marketdata_duplicates_skipped_total', 'Candles not published because their open time was already published', ['exchange']),
    connected: gauge(registry, 'bitpredict_marketdata_connected', '1 while the exchange socket is open', ['exchange']),
    dlq: counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']),
  };

  const exchanges = m.exchanges.filter((e): e is Exchange => {
    if (e === 'binance' || e === 'coinbase') return true;
    logger.warn({ exchange: e }, 'unknown exchange in BITPREDICT_MARKET_EXCHANGES; ignored');
    return false;
  });
  const series: Series[] = [];
  for (const exchange of exchanges) {
    for (const s of m.symbols) {
      for (const interval of m.intervals) {
        const len = intervalMs(interval);
        if (exchange === 'binance') {
          const symbol = s.toUpperCase();
          series.push({ exchange, symbol, remote: symbol, interval, len, key: seriesKey(symbol, interval), builder: null, pendingFill: null });
          continue;
        }
        const product = coinbaseProduct(s);
        if (!product || COINBASE_GRANULARITY[interval] === undefined) {
          logger.warn({ symbol: s, interval }, 'Coinbase has no product or granularity for this symbol/interval; skipped');
          continue;
        }
        const symbol = coinbasePublishedSymbol(product);
        series.push({ exchange, symbol, remote: product, interval, len, key: seriesKey(symbol, interval), builder: null, pendingFill: null });
      }
    }
  }
  const byKey = new Map(series.map((x) => [`${x.exchange}|${x.remote}|${x.interval}`, x]));
  const last = new Map<string, number>();
  const abort = new AbortController();
  const ownProducer = opts.producer === undefined;
  let producer: Producer | null = opts.producer ?? null;
  const sockets = new Map<Exchange, ReconnectingSocket>();
  let queue: Promise<void> = Promise.resolve();
  let stopped = false;
  let started = false;

  const fatal = (err: unknown): void => {
    const e = isBitPredictError(err) ? err : new BitPredictError('ERR_KAFKA', errorMessage(err), { cause: err });
    logger.error({ code: e.code, err: e.message }, 'market data task failed');
    opts.onFatal?.(e);
  };

  function enqueue(task: () => Promise<void> | void): void {
    queue = queue.then(task).catch((err: unknown) => {
      if (err instanceof Aborted || stopped) return;
      fatal(err);
    });
  }

  function deadLetter(exchange: Exchange, kind: 'ws' | 'http', source: string, raw: Buffer | null, code: 'ERR_VALIDATION' | 'ERR_MALFORMED_INPUT', reason: string): OutRecord {
    metrics.invalid.inc({ exchange, reason: code });
    metrics.dlq.inc({ group: 'market-data', reason: code });
    logger.warn({ exchange, source, reason }, 'market data input sent to the DLQ');
    return deadLetterFromSource(dlqDeps, { kind, source, offset: null, raw }, { code, message: reason, attempts: 1 }, Date.now());
  }

  /** Validates, dedupes and publishes candles of one series in openTime order; updates `last` after the ack. */
  async function publish(s: Series, drafts: readonly CandleDraft[], path: 'ws' | 'rest', source: string, raw: Buffer | null): Promise<void> {
    const records: OutRecord[] = [];
    let newest = last.get(s.key) ?? Number.NEGATIVE_INFINITY;
    let count = 0;
    const t = now();
    for (const d of [...drafts].sort((a, b) => a.openTime - b.openTime)) {
      if (d.openTime <= newest) {
        metrics.skipped.inc({ exchange: s.exchange });
        continue;
      }
      const candle: Candle = { ...d, symbol: s.symbol, ingestedAt: Date.now() };
      const bad = validateCandle(candle, t, config.events.futureToleranceMs);
      if (bad) {
        records.push(deadLetter(s.exchange, path === 'ws' ? 'ws' : 'http', source, raw ?? Buffer.from(JSON.stringify(d)), bad.code, `${s.key} ${bad.reason}`));
        continue;
      }
      records.push({ topic, key: s.key, value: serde.encode('candles', candle), timestamp: candle.closeTime });
      newest = d.openTime;
      count++;
    }
    if (records.length === 0) return;
    if (!producer) throw new BitPredictError('ERR_KAFKA', 'market data producer is not started');
    await producer.send(records);
    if (count > 0) {
      last.set(s.key, newest);
      metrics.candles.inc({ exchange: s.exchange, path }, count);
      if (path === 'rest') metrics.gapCandles.inc({ exchange: s.exchange }, count);
    }
  }

  const restDeps = (exchange: Exchange): RestDeps => ({
    logger, errors: metrics.restErrors, exchange, baseMs: m.reconnectBaseMs, maxMs: m.reconnectMaxMs, random, signal: abort.signal,
  });

  /** Publishes from REST every closed candle after the last published one, up to openTime `upTo`. */
  async function fillGap(s: Series, upTo: number): Promise<void> {
    const plan = planGap(last.get(s.key) ?? null, upTo, s.len);
    if (!plan) return;
    logger.info({ key: s.key, exchange: s.exchange, from: new Date(plan.from).toISOString(), candles: plan.count }, 'filling gap from REST');
    for (const page of pageGap(plan, s.len, PAGE[s.exchange])) {
      const url = s.exchange === 'binance'
        ? `${m.binance.restUrl}/api/v3/klines?symbol=${s.remote}&interval=${s.interval}&startTime=${page.from}&endTime=${page.to + s.len - 1}&limit=${PAGE.binance}`
        : `${m.coinbase.restUrl}/products/${s.remote}/candles?granularity=${COINBASE_GRANULARITY[s.interval]}&start=${new Date(page.from).toISOString()}&end=${new Date(page.to).toISOString()}`;
      const res = await getJson(url, restDeps(s.exchange));
      if (!res.ok) {
        const dl = deadLetter(s.exchange, 'http', url, res.raw, 'ERR_MALFORMED_INPUT', res.reason);
        await producer?.send([dl]);
        return;
      }
      const parsed: Parsed<CandleDraft[]> = s.exchange === 'binance' ? parseBinanceKlines(res.body, s.symbol, s.interval) : parseCoinbaseCandles(res.body, s.symbol, s.interval);
      if (!parsed.ok) {
        await producer?.send([deadLetter(s.exchange, 'http', url, Buffer.from(JSON.stringify(res.body)), 'ERR_VALIDATION', parsed.reason)]);
        return;
      }
      // Exchanges may include the candle still open or rows outside the asked window.
      await publish(s, parsed.value.filter((c) => c.openTime >= page.from && c.openTime <= page.to), 'rest', url, null);
    }
  }

  function onBinanceOpen(): void {
    metrics.connected.set({ exchange: 'binance' }, 1);
    for (const s of series) if (s.exchange === 'binance') enqueue(() => fillGap(s, lastClosedOpenTime(now(), s.len)));
  }

  function onBinanceMessage(raw: Buffer): void {
    enqueue(async () => {
      const parsed = parseBinanceFrame(raw.toString('utf8'));
      if (!parsed.ok) {
        await producer?.send([deadLetter('binance', 'ws', 'binance-ws', raw, 'ERR_VALIDATION', parsed.reason)]);
        return;
      }
      const f = parsed.value;
      if (f.kind === 'trade') metrics.trades.inc({ exchange: 'binance', outcome: 'seen' });
      if (f.kind !== 'kline' || !f.closed) return;
      const s = byKey.get(`binance|${f.candle.symbol}|${f.candle.interval}`);
      if (s) await publish(s, [f.candle], 'ws', 'binance-ws', raw);
    });
  }

  function onCoinbaseOpen(): void {
    metrics.connected.set({ exchange: 'coinbase' }, 1);
    const cb = series.filter((s) => s.exchange === 'coinbase');
    sockets.get('coinbase')?.send(JSON.stringify({ type: 'subscribe', product_ids: [...new Set(cb.map((s) => s.remote))], channels: ['matches', 'heartbeat'] }));
    for (const s of cb) {
      // Trades were missed while disconnected, so the candle in progress is incomplete: the new
      // builder starts with the next candle, and this one is fetched from REST once it closes.
      const current = lastClosedOpenTime(now(), s.len) + s.len;
      s.builder = createCandleBuilder({ symbol: s.symbol, interval: s.interval, exchange: 'coinbase', source: 'coinbase-ws', graceMs: m.graceMs, startFrom: current + s.len });
      s.pendingFill = current;
      enqueue(() => fillGap(s, current - s.len));
    }
  }

  async function afterWatermark(s: Series, raw: Buffer): Promise<void> {
    const b = s.builder as CandleBuilder;
    if (s.pendingFill !== null && b.watermark >= s.pendingFill + s.len + m.graceMs) {
      const upTo = s.pendingFill;
      s.pendingFill = null;
      await fillGap(s, upTo);
    }
    const closed = b.takeClosed();
    if (closed.length > 0) await publish(s, closed, 'ws', 'coinbase-ws', raw);
  }

  function onCoinbaseMessage(raw: Buffer): void {
    enqueue(async () => {
      const parsed = parseCoinbaseFrame(raw.toString('utf8'));
      if (!parsed.ok) {
        await producer?.send([deadLetter('coinbase', 'ws', 'coinbase-ws', raw, 'ERR_VALIDATION', parsed.reason)]);
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
      if (time > now() + config.events.futureToleranceMs) {
        await producer?.send([deadLetter('coinbase', 'ws', 'coinbase-ws', raw, 'ERR_VALIDATION', `time ${new Date(time).toISOString()} is in the future`)]);
        return;
      }
      for (const s of series) {
        if (s.exchange !== 'coinbase' || s.remote !== f.productId || !s.builder) continue;
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
  }

  function onDisconnect(exchange: Exchange): void {
    metrics.connected.set({ exchange }, 0);
    metrics.reconnects.inc({ exchange });
  }

  async function initLastPublished(): Promise<void> {
    const keys = new Set(series.map((s) => s.key));
    let tail: Awaited<ReturnType<typeof readTail>> = [];
    // A topic created moments ago may not have a leader yet: retriable errors are retried briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        tail = await readTail(platform.kafka, topic, { perPartition: 500 });
        break;
      } catch (err) {
        if (!isBitPredictError(err) || !err.retryable || attempt >= 10) throw err;
        logger.warn({ err: err.message, attempt }, 'reading the tail of market.candles failed; retrying');
        await sleep(backoffDelay(attempt, 100, 2000, random), abort.signal);
      }
    }
    for (const rec of tail) {
      const key = rec.key?.toString() ?? '';
      if (!keys.has(key) || !rec.value) continue;
      try {
        const c = await serde.decode('candles', rec.value);
        if (c.openTime > (last.get(key) ?? Number.NEGATIVE_INFINITY)) last.set(key, c.openTime);
      } catch (err) {
        logger.warn({ key, err: errorMessage(err) }, 'undecodable record in the tail of market.candles; ignored');
      }
    }
    logger.info({ lastPublished: Object.fromEntries([...last].map(([k, v]) => [k, new Date(v).toISOString()])) }, 'resuming after the last published candles');
  }

  const socketOpts = { logger, heartbeatTimeoutMs: m.heartbeatTimeoutMs, baseMs: m.reconnectBaseMs, maxMs: m.reconnectMaxMs, random };

  return {
    name: 'market-data',
    async start() {
      if (started) return;
      started = true;
      await initLastPublished();
      producer ??= await createProducer(platform.kafka);
      if (exchanges.includes('binance')) {
        const streams = series.filter((s) => s.exchange === 'binance').flatMap((s) => [`${binanceStreamSymbol(s.remote)}@kline_${s.interval}`]);
        for (const sym of new Set(series.filter((s) => s.exchange === 'binance').map((s) => binanceStreamSymbol(s.remote)))) streams.push(`${sym}@trade`);
        sockets.set('binance', createReconnectingSocket({
          ...socketOpts, name: 'binance', url: `${m.binance.wsUrl}/stream?streams=${streams.join('/')}`,
          onOpen: onBinanceOpen, onMessage: onBinanceMessage, onDisconnect: () => onDisconnect('binance'),
        }));
      }
      if (series.some((s) => s.exchange === 'coinbase')) {
        sockets.set('coinbase', createReconnectingSocket({
          ...socketOpts, name: 'coinbase', url: m.coinbase.wsUrl,
          onOpen: onCoinbaseOpen, onMessage: onCoinbaseMessage, onDisconnect: () => onDisconnect('coinbase'),
        }));
      }
      for (const s of sockets.values()) s.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      abort.abort();
      for (const s of sockets.values()) await s.stop();
      await queue;
      if (ownProducer && producer) await producer.close();
    },
    readiness(): Readiness {
      const checks: Record<string, string> = {};
      for (const [name, s] of sockets) checks[name] = s.connected ? 'connected' : 'disconnected';
      return { ready: started && !stopped && [...sockets.values()].every((s) => s.connected), checks };
    },
    lastPublished: () => last,
    idle: () => queue,
  };
}
