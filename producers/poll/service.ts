// REST polling fallback: polls a CryptoCompare-style histo API (histominute/histohour/histoday)
// every period and publishes the CLOSED candles newer than the last one published per key, so
// restarts and overlapping polls never republish and nothing is ever fabricated for a gap. Rate
// limits (429 + Retry-After, or the API's "rate limit" Error body) and server errors back off
// exponentially per key; malformed bodies and rows go to the DLQ (sourceKind 'http').
import type { Logger } from '../../core/logger.js';
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import type { Readiness, Service } from '../../core/service.js';
import { deadLetterFromSource } from '../../core/kafka/dlq.js';
import { BitPredictError, errorMessage, type ErrorCode } from '../../core/errors.js';
import { counter, gauge, type Registry } from '../../core/metrics.js';
import { createPoller, type SourceState } from '../../core/polling.js';
import { intervalMs as lengthOf } from '../../core/domain/intervals.js';
import { lastOpenTimesByKey } from '../../core/kafka/resume.js';
import {
  classifyResponse,
  histoPath,
  isPollInterval,
  planPublish,
  requestLimit,
  retryDelay,
  splitSymbol,
  type HistoOutcome,
  type PollInterval,
  type Plan,
  type RowParse,
} from './domain/histo.js';
import { seriesKey } from '../../schemas/keys.js';
import type { Config } from '../../core/config.js';

export interface PollServiceDeps {
  platform: Platform;
  config: Pick<Config, 'events' | 'market'>;
  producer: Producer;
  /** Default config.market.symbols. */
  symbols?: string[];
  /** Default config.market.intervals that the API serves (1m, 1h, 1d). */
  intervals?: string[];
  /** Default config.market.poll.url. */
  baseUrl?: string;
  /** Default config.market.poll.intervalMs. */
  periodMs?: number;
  /** Candles asked for on a cold start (no candle of the key in market.candles). Default 60. */
  backfill?: number;
  /** Exchange name on the candles. Default 'cryptocompare' (its CCCAGG aggregate). */
  exchange?: string;
  requestTimeoutMs?: number;
  /** Event clock: decides which candles are closed. Scheduling uses the wall clock. */
  now?: () => number;
  /** Jitter source for backoff, in [0, 1). */
  random?: () => number;
  fetch?: typeof fetch;
  /** A publish that failed after the producer's own retries: the service stops polling. */
  onFatal?(err: BitPredictError): void;
}

export interface PollResult {
  key: string;
  outcome: HistoOutcome['kind'] | 'network-error';
  published: number;
  deadLettered: number;
  /** Wall-clock ms before this key is polled again after a failure, else 0. */
  retryInMs: number;
}

export interface PollService extends Service {
  /** Reads the last published candle per key from market.candles (idempotent; start() does it). */
  init(): Promise<void>;
  /** Polls every key that is due once (the loop does this every period); for tests and tools. */
  pollOnce(): Promise<PollResult[]>;
  /** Last published openTime per key. */
  lastOpenTimes(): Map<string, number>;
}

interface KeyState extends SourceState<PollResult['outcome']> {
  key: string;
  symbol: string;
  interval: PollInterval;
  intervalMs: number;
  pair: { fsym: string; tsym: string };
  last: number | null;
  /** The last failure's message, for readiness. */
  lastError: string | null;
}

const MAX_DLQ_BODY = 64 * 1024;

interface HttpAnswer {
  status: number;
  retryAfter: string | null;
  body: string;
}

export function createPollService(deps: PollServiceDeps): PollService {
  const { platform, producer } = deps;
  const { config } = deps;
  const logger: Logger = platform.logger.child({ component: 'poll' });
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const doFetch = deps.fetch ?? fetch;
  const baseUrl = (deps.baseUrl ?? config.market.poll.url).replace(/\/+$/, '');
  const periodMs = deps.periodMs ?? config.market.poll.intervalMs;
  const backfill = deps.backfill ?? 60;
  const exchange = deps.exchange ?? 'cryptocompare';
  const timeoutMs = deps.requestTimeoutMs ?? 10_000;
  const keys = keyStates(deps.symbols ?? config.market.symbols, deps.intervals ?? config.market.intervals.filter(isPollInterval));
  const metrics = pollMetrics(platform.registry);

  const writer = createCandleWriter({ platform, producer, logger, metrics, now, futureToleranceMs: config.events.futureToleranceMs, exchange, baseUrl });

  const fail = (k: KeyState, outcome: PollResult['outcome'], message: string, retryAfterMs: number | null, err: unknown = message): PollResult => {
    k.lastError = message;
    const delay = poller.failed(k, outcome, retryAfterMs);
    metrics.backoff.set({ key: k.key }, delay);
    logger.warn({ key: k.key, outcome, failures: k.failures, retryInMs: delay, err }, 'poll failed; backing off');
    return { key: k.key, outcome, published: 0, deadLettered: 0, retryInMs: delay };
  };

  async function fetchText(url: string): Promise<HttpAnswer> {
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), poller.signal]);
    const res = await doFetch(url, { signal, headers: { accept: 'application/json' } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  }

  async function pollKey(k: KeyState): Promise<PollResult> {
    const url = `${baseUrl}${histoPath(k.interval, k.pair, requestLimit(k.last, now(), k.intervalMs, backfill))}`;
    let answer: HttpAnswer;
    try {
      answer = await fetchText(url);
    } catch (err) {
      metrics.requests.inc({ key: k.key, outcome: 'network-error' });
      return fail(k, 'network-error', errorMessage(err), null, err);
    }
    const outcome = classifyResponse(answer.status, answer.retryAfter, answer.body, Date.now());
    metrics.requests.inc({ key: k.key, outcome: outcome.kind });
    switch (outcome.kind) {
      case 'rate-limited':
        return fail(k, outcome.kind, outcome.message, outcome.retryAfterMs);
      case 'server-error':
      case 'client-error':
        return fail(k, outcome.kind, outcome.message, null);
      case 'malformed': {
        // The body itself goes to the DLQ so the failure can be inspected; then back off, as a
        // malformed answer is usually a proxy or maintenance page.
        await producer.send([writer.deadLetter(url, null, answer.body, 'ERR_MALFORMED_INPUT', `malformed poll response: ${outcome.message}`)]);
        const r = fail(k, outcome.kind, outcome.message, null);
        return { ...r, deadLettered: 1 };
      }
      case 'ok': {
        const plan = await writer.publish(k, url, outcome.rows);
        poller.succeeded(k, 'ok', 0);
        k.lastError = null;
        metrics.backoff.set({ key: k.key }, 0);
        return { key: k.key, outcome: 'ok', published: plan.publish.length, deadLettered: plan.dead.length, retryInMs: 0 };
      }
    }
  }

  async function pollDue(): Promise<PollResult[]> {
    await poller.seed();
    const out: PollResult[] = [];
    for (const k of keys) {
      if (poller.stopped) break;
      if (k.nextAt > Date.now()) continue;
      out.push(await pollKey(k));
    }
    return out;
  }

  // Backoff and the schedule run on the wall clock; `now` is the event clock (which candles are closed).
  const poller = createPoller({
    now: Date.now,
    backoff: (failures, serverWaitMs) => retryDelay(failures, config.market.reconnectBaseMs, config.market.reconnectMaxMs, random(), serverWaitMs),
    seed: () =>
      lastOpenTimesByKey(platform, platform.kafka.topic('candles'), 1000).then((last) => {
        for (const k of keys) k.last = last.get(k.key) ?? null;
      }),
    onStart: () => logger.info({ baseUrl, periodMs, keys: keys.map((k) => ({ key: k.key, last: k.last })) }, 'poll starting'),
    round: async () => {
      const roundStart = Date.now();
      await pollDue();
      // Next round at the period, or earlier when a backed-off key becomes due, never busy-looping.
      const due = Math.min(roundStart + periodMs, ...keys.map((k) => (k.nextAt > 0 ? k.nextAt : Infinity)));
      return Math.max(due - Date.now(), 10);
    },
    onRoundError: (err) => {
      // Only publishing throws here (HTTP failures are outcomes): the producer already retried.
      const e = err instanceof BitPredictError ? err : new BitPredictError('ERR_KAFKA', `poll publish failed: ${errorMessage(err)}`, { cause: err });
      logger.error({ code: e.code, err: e }, 'poll: publishing failed; stopping');
      poller.halt();
      deps.onFatal?.(e);
      return 0;
    },
  });

  return {
    name: 'poll',
    init: poller.seed,
    start: poller.start,
    stop: poller.stop,
    readiness(): Readiness {
      const checks: Record<string, string> = {};
      for (const k of keys)
        checks[`poll ${k.key}`] = k.failures === 0 ? 'ok' : `backing off after ${k.failures} failure(s): ${k.lastError ?? ''}`.slice(0, 200);
      // Upstream trouble is reported, not turned into unreadiness: restarting cannot fix it.
      return poller.readiness(checks);
    },
    pollOnce: () => poller.exclusive(pollDue),
    lastOpenTimes() {
      return new Map(keys.flatMap((k) => (k.last === null ? [] : [[k.key, k.last] as const])));
    },
  };
}

/** One state per symbol and interval; a symbol or interval the API cannot serve is a configuration error. */
function keyStates(symbols: string[], intervals: string[]): KeyState[] {
  const keys: KeyState[] = [];
  for (const symbol of symbols) {
    const pair = splitSymbol(symbol);
    if (!pair) throw new BitPredictError('ERR_CONFIG_INVALID', `poll: cannot split symbol "${symbol}" into base and quote asset`);
    for (const interval of intervals) {
      if (!isPollInterval(interval))
        throw new BitPredictError('ERR_CONFIG_INVALID', `poll: interval "${interval}" is not served by the histo API (1m, 1h, 1d)`);
      keys.push({
        key: seriesKey(symbol, interval),
        symbol,
        interval,
        intervalMs: lengthOf(interval),
        pair,
        last: null,
        failures: 0,
        nextAt: 0,
        lastResult: null,
        lastError: null,
      });
    }
  }
  if (keys.length === 0) throw new BitPredictError('ERR_CONFIG_INVALID', 'poll: no symbol/interval to poll (intervals must include 1m, 1h or 1d)');
  return keys;
}

function pollMetrics(registry: Registry) {
  return {
    requests: counter(registry, 'bitpredict_poll_requests_total', 'REST poll requests, by key and outcome', ['key', 'outcome']),
    candles: counter(registry, 'bitpredict_poll_candles_total', 'Candles published by the REST poller', ['key']),
    dlq: counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']),
    backoff: gauge(registry, 'bitpredict_poll_backoff_ms', 'Current retry delay of a polled key after failures (0: healthy)', ['key']),
    last: gauge(registry, 'bitpredict_poll_last_open_time_ms', 'Open time of the last candle published per key', ['key']),
  };
}

/** The Kafka side of the poller: the new closed candles of an answer to market.candles, bad rows and bodies to the DLQ. */
function createCandleWriter(w: {
  platform: Platform;
  producer: Producer;
  logger: Logger;
  metrics: ReturnType<typeof pollMetrics>;
  now: () => number;
  futureToleranceMs: number;
  exchange: string;
  baseUrl: string;
}) {
  const { platform, producer, logger, metrics, now } = w;
  const topic = platform.kafka.topic('candles');

  const deadLetter = (source: string, offset: number | null, raw: string, code: ErrorCode, message: string): OutRecord => {
    metrics.dlq.inc({ group: 'poll', reason: code });
    return deadLetterFromSource(
      { serde: platform.serde, topicPrefix: platform.kafka.topicPrefix },
      { kind: 'http', source, offset, raw: Buffer.from(raw.slice(0, MAX_DLQ_BODY), 'utf8') },
      { code, message, attempts: 1 },
      now(),
    );
  };

  /** Publishes what the plan of one answer says, and moves the key's last published candle on after the ack. */
  async function publish(k: KeyState, url: string, rows: RowParse[]): Promise<Plan> {
    const plan = planPublish({
      rows,
      lastOpenTime: k.last,
      now: now(),
      intervalMs: k.intervalMs,
      futureToleranceMs: w.futureToleranceMs,
      meta: { symbol: k.symbol, interval: k.interval, exchange: w.exchange, source: `poll:${new URL(w.baseUrl).host}` },
    });
    const records: OutRecord[] = plan.dead.map((d) => deadLetter(url, d.index, d.raw, d.code, d.reason));
    for (const d of plan.dead) logger.warn({ key: k.key, row: d.index, reason: d.reason }, 'poll row sent to the DLQ');
    for (const c of plan.publish) records.push({ topic, key: k.key, value: platform.serde.encode('candles', c), timestamp: c.closeTime });
    if (records.length > 0) await producer.send(records);
    const newest = plan.publish.at(-1);
    if (newest) {
      k.last = newest.openTime;
      metrics.last.set({ key: k.key }, newest.openTime);
    }
    if (plan.missingIntervals > 0) logger.info({ key: k.key, missingIntervals: plan.missingIntervals }, 'poll: gap in the source data (not filled)');
    metrics.candles.inc({ key: k.key }, plan.publish.length);
    return plan;
  }

  return { deadLetter, publish };
}
