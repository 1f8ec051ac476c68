// Live market data: Binance closed klines and Coinbase trades (built into candles in event time)
// published to market.candles, with REST gap fill after every (re)connect and dedupe by the last
// published open time per key, initialised from the tail of market.candles so that a restart
// neither duplicates nor misses candles.
//
// Ordering: every frame, gap fill and publish runs on one serial task queue. A reconnect enqueues
// its gap fill before any frame of the new socket is handled, so candles of one key are always
// published in openTime order and "last published" is a single number per key.
//
// The parts: series.ts (what is streamed), exchanges.ts (what each exchange's frames mean),
// sink.ts (validation, dedupe, publishing, the DLQ), gap-fill.ts (REST gap fill), resume.ts (the
// tail read on start), socket.ts and rest.ts (the connections). This file wires them around the
// queue and owns start, stop and readiness.
import type { Platform } from '../../core/runtime.js';
import type { Logger } from '../../core/logger.js';
import type { Service, Readiness } from '../../core/service.js';
import type { Producer } from '../../core/kafka/producer.js';
import { createProducer } from '../../core/kafka/producer.js';
import { BitPredictError, errorMessage, isBitPredictError } from '../../core/errors.js';
import type { Exchange } from './domain/index.js';
import { Aborted } from './rest.js';
import { createReconnectingSocket, type ReconnectingSocket } from './socket.js';
import { marketDataMetrics } from './metrics.js';
import { planSeries } from './series.js';
import { createCandleSink } from './sink.js';
import { createGapFiller } from './gap-fill.js';
import { binanceStream, coinbaseStream, type ExchangeStream, type StreamDeps } from './exchanges.js';
import { loadLastPublished } from './resume.js';
import type { Config } from '../../core/config.js';

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

export async function createMarketDataService(opts: MarketDataOptions): Promise<MarketDataService> {
  const { platform } = opts;
  const { config } = opts;
  const m = config.market;
  const logger: Logger = platform.logger.child({ component: 'market-data' });
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const metrics = marketDataMetrics(platform.registry);
  const { exchanges, series } = planSeries(m, logger);
  const abort = new AbortController();
  const ownProducer = opts.producer === undefined;
  let producer: Producer | null = opts.producer ?? null;
  const sockets = new Map<Exchange, ReconnectingSocket>();
  let queue: Promise<void> = Promise.resolve();
  let stopped = false;
  let started = false;

  const fatal = (err: unknown): void => {
    const e = isBitPredictError(err) ? err : new BitPredictError('ERR_KAFKA', errorMessage(err), { cause: err });
    logger.error({ code: e.code, err: e }, 'market data task failed');
    opts.onFatal?.(e);
  };

  function enqueue(task: () => Promise<void> | void): void {
    queue = queue.then(task).catch((err: unknown) => {
      if (err instanceof Aborted || stopped) return;
      fatal(err);
    });
  }

  const sink = createCandleSink({ platform, logger, metrics, now, futureToleranceMs: config.events.futureToleranceMs, producer: () => producer });
  const fillGap = createGapFiller({ market: m, logger, metrics, random, signal: abort.signal, sink });
  const streamDeps = (exchange: Exchange): StreamDeps => ({
    series: series.filter((s) => s.exchange === exchange),
    market: m,
    futureToleranceMs: config.events.futureToleranceMs,
    now,
    logger,
    metrics,
    sink,
    fillGap,
    enqueue,
  });

  function connect(exchange: Exchange, stream: ExchangeStream): void {
    sockets.set(
      exchange,
      createReconnectingSocket({
        logger,
        heartbeatTimeoutMs: m.heartbeatTimeoutMs,
        baseMs: m.reconnectBaseMs,
        maxMs: m.reconnectMaxMs,
        random,
        name: exchange,
        url: stream.url,
        onOpen: stream.onOpen,
        onMessage: stream.onMessage,
        onDisconnect: () => {
          metrics.connected.set({ exchange }, 0);
          metrics.reconnects.inc({ exchange });
        },
      }),
    );
  }

  return {
    name: 'market-data',
    async start() {
      if (started) return;
      started = true;
      await loadLastPublished(
        { platform, topic: platform.kafka.topic('candles'), logger, random, signal: abort.signal },
        new Set(series.map((s) => s.key)),
        sink.last,
      );
      producer ??= await createProducer(platform.kafka);
      if (exchanges.includes('binance')) connect('binance', binanceStream(streamDeps('binance')));
      if (series.some((s) => s.exchange === 'coinbase'))
        connect('coinbase', coinbaseStream({ ...streamDeps('coinbase'), send: (text) => sockets.get('coinbase')?.send(text) }));
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
    lastPublished: () => sink.last,
    idle: () => queue,
  };
}
