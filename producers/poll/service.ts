// REST polling fallback: polls a CryptoCompare-style histo API (histominute/histohour/histoday)
// every period and publishes the CLOSED candles newer than the last one published per key, so
// restarts and overlapping polls never republish and nothing is ever fabricated for a gap. Rate
// limits (429 + Retry-After, or the API's "rate limit" Error body) and server errors back off
// exponentially per key; malformed bodies and rows go to the DLQ (sourceKind 'http').
import { delay } from '../../core/time.js';
import type { Logger } from '../../core/logger.js';
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import type { Readiness, Service } from '../../core/service.js';
import { deadLetterFromSource } from '../../core/kafka/dlq.js';
import { BitPredictError, errorMessage, type ErrorCode } from '../../core/errors.js';
import { counter, gauge } from '../../core/metrics.js';
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

interface KeyState {
  key: string;
  symbol: string;
  interval: PollInterval;
  intervalMs: number;
  pair: { fsym: string; tsym: string };
  last: number | null;
  failures: number;
  notBefore: number;
  lastError: string | null;
}

const MAX_DLQ_BODY = 64 * 1024;

export function createPollService(deps: PollServiceDeps): PollService {
  const { platform, producer } = deps;
  const { serde, registry } = platform;
  const { config } = deps;
  const logger: Logger = platform.logger.child({ service: 'poll' });
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const doFetch = deps.fetch ?? fetch;
  const baseUrl = (deps.baseUrl ?? config.market.poll.url).replace(/\/+$/, '');
  const periodMs = deps.periodMs ?? config.market.poll.intervalMs;
  const backfill = deps.backfill ?? 60;
  const exchange = deps.exchange ?? 'cryptocompare';
  const timeoutMs = deps.requestTimeoutMs ?? 10_000;
  const topic = platform.kafka.topic('candles');
  const symbols = deps.symbols ?? config.market.symbols;
  const intervals = deps.intervals ?? config.market.intervals.filter(isPollInterval);

  const keys: KeyState[] = [];
  for (const symbol of symbols) {
    const pair = splitSymbol(symbol);
    if (!pair) throw new BitPredictError('ERR_CONFIG_INVALID', `poll: cannot split symbol "${symbol}" into base and quote asset`);
    for (const interval of intervals) {
      if (!isPollInterval(interval)) throw new BitPredictError('ERR_CONFIG_INVALID', `poll: interval "${interval}" is not served by the histo API (1m, 1h, 1d)`);
      keys.push({ key: seriesKey(symbol, interval), symbol, interval, intervalMs: lengthOf(interval), pair, last: null, failures: 0, notBefore: 0, lastError: null });
    }
  }
  if (keys.length === 0) throw new BitPredictError('ERR_CONFIG_INVALID', 'poll: no symbol/interval to poll (intervals must include 1m, 1h or 1d)');

  const requests = counter(registry, 'bitpredict_poll_requests_total', 'REST poll requests, by key and outcome', ['key', 'outcome']);
  const candlesTotal = counter(registry, 'bitpredict_poll_candles_total', 'Candles published by the REST poller', ['key']);
  const dlqTotal = counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']);
  const backoffGauge = gauge(registry, 'bitpredict_poll_backoff_ms', 'Current retry delay of a polled key after failures (0: healthy)', ['key']);
  const lastGauge = gauge(registry, 'bitpredict_poll_last_open_time_ms', 'Open time of the last candle published per key', ['key']);

  let started = false;
  let initialised: Promise<void> | null = null;
  let stopped = false;
  let loop: Promise<void> | null = null;
  const stopper = new AbortController();

  const dlq = (source: string, offset: number | null, raw: string, code: ErrorCode, message: string): OutRecord => {
    dlqTotal.inc({ group: 'poll', reason: code });
    return deadLetterFromSource(
      { serde, topicPrefix: platform.kafka.topicPrefix },
      { kind: 'http', source, offset, raw: Buffer.from(raw.slice(0, MAX_DLQ_BODY), 'utf8') },
      { code, message, attempts: 1 },
      now(),
    );
  };

  const fail = (k: KeyState, outcome: PollResult['outcome'], message: string, retryAfterMs: number | null): PollResult => {
    k.failures++;
    k.lastError = message;
    const delay = retryDelay(k.failures, config.market.reconnectBaseMs, config.market.reconnectMaxMs, random(), retryAfterMs);
    k.notBefore = Date.now() + delay;
    backoffGauge.set({ key: k.key }, delay);
    logger.warn({ key: k.key, outcome, failures: k.failures, retryInMs: delay, err: message }, 'poll failed; backing off');
    return { key: k.key, outcome, published: 0, deadLettered: 0, retryInMs: delay };
  };

  async function fetchText(url: string): Promise<{ status: number; retryAfter: string | null; body: string }> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([timeout, stopper.signal]);
    const res = await doFetch(url, { signal, headers: { accept: 'application/json' } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  }

  async function pollKey(k: KeyState): Promise<PollResult> {
    const path = histoPath(k.interval, k.pair, requestLimit(k.last, now(), k.intervalMs, backfill));
    const url = `${baseUrl}${path}`;
    let answer: { status: number; retryAfter: string | null; body: string };
    try {
      answer = await fetchText(url);
    } catch (err) {
      requests.inc({ key: k.key, outcome: 'network-error' });
      return fail(k, 'network-error', errorMessage(err), null);
    }
    const outcome = classifyResponse(answer.status, answer.retryAfter, answer.body, Date.now());
    requests.inc({ key: k.key, outcome: outcome.kind });
    switch (outcome.kind) {
      case 'rate-limited':
        return fail(k, outcome.kind, outcome.message, outcome.retryAfterMs);
      case 'server-error':
      case 'client-error':
        return fail(k, outcome.kind, outcome.message, null);
      case 'malformed': {
        // The body itself goes to the DLQ so the failure can be inspected; then back off, as a
        // malformed answer is usually a proxy or maintenance page.
        await producer.send([dlq(url, null, answer.body, 'ERR_MALFORMED_INPUT', `malformed poll response: ${outcome.message}`)]);
        const r = fail(k, outcome.kind, outcome.message, null);
        return { ...r, deadLettered: 1 };
      }
      case 'ok':
        break;
    }
    const plan = planPublish({
      rows: outcome.rows, lastOpenTime: k.last, now: now(), intervalMs: k.intervalMs, futureToleranceMs: config.events.futureToleranceMs,
      meta: { symbol: k.symbol, interval: k.interval, exchange, source: `poll:${new URL(baseUrl).host}` },
    });
    const records: OutRecord[] = plan.dead.map((d) => dlq(url, d.index, d.raw, d.code, d.reason));
    for (const d of plan.dead) logger.warn({ key: k.key, row: d.index, reason: d.reason }, 'poll row sent to the DLQ');
    for (const c of plan.publish) records.push({ topic, key: k.key, value: serde.encode('candles', c), timestamp: c.closeTime });
    if (records.length > 0) await producer.send(records);
    const newest = plan.publish.at(-1);
    if (newest) {
      k.last = newest.openTime;
      lastGauge.set({ key: k.key }, newest.openTime);
    }
    if (plan.missingIntervals > 0) logger.info({ key: k.key, missingIntervals: plan.missingIntervals }, 'poll: gap in the source data (not filled)');
    candlesTotal.inc({ key: k.key }, plan.publish.length);
    k.failures = 0;
    k.notBefore = 0;
    k.lastError = null;
    backoffGauge.set({ key: k.key }, 0);
    return { key: k.key, outcome: 'ok', published: plan.publish.length, deadLettered: plan.dead.length, retryInMs: 0 };
  }

  function init(): Promise<void> {
    initialised ??= lastOpenTimesByKey(platform, topic, 1000).then((last) => {
      for (const k of keys) k.last = last.get(k.key) ?? null;
    });
    return initialised;
  }

  async function pollOnce(): Promise<PollResult[]> {
    await init();
    const out: PollResult[] = [];
    for (const k of keys) {
      if (stopped) break;
      if (k.notBefore > Date.now()) continue;
      out.push(await pollKey(k));
    }
    return out;
  }


  async function run(): Promise<void> {
    while (!stopped) {
      const roundStart = Date.now();
      try {
        await pollOnce();
      } catch (err) {
        // Only publishing throws here (HTTP failures are outcomes): the producer already retried.
        const e = err instanceof BitPredictError ? err : new BitPredictError('ERR_KAFKA', `poll publish failed: ${errorMessage(err)}`, { cause: err });
        logger.error({ code: e.code, err: e.message }, 'poll: publishing failed; stopping');
        stopped = true;
        deps.onFatal?.(e);
        return;
      }
      // Next round at the period, or earlier when a backed-off key becomes due, never busy-looping.
      const due = Math.min(roundStart + periodMs, ...keys.map((k) => (k.notBefore > 0 ? k.notBefore : Infinity)));
      await delay(Math.max(due - Date.now(), 10), stopper.signal);
    }
  }

  return {
    name: 'poll',
    init,
    async start() {
      if (started) return;
      await init();
      logger.info({ baseUrl, periodMs, keys: keys.map((k) => ({ key: k.key, last: k.last })) }, 'poll starting');
      started = true;
      loop = run();
    },
    async stop() {
      stopped = true;
      stopper.abort();
      if (loop) await loop;
    },
    readiness(): Readiness {
      const checks: Record<string, string> = {};
      for (const k of keys) checks[`poll ${k.key}`] = k.failures === 0 ? 'ok' : `backing off after ${k.failures} failure(s): ${k.lastError ?? ''}`.slice(0, 200);
      // Upstream trouble is reported, not turned into unreadiness: restarting cannot fix it.
      return { ready: started && !stopped, checks };
    },
    pollOnce,
    lastOpenTimes() {
      return new Map(keys.flatMap((k) => (k.last === null ? [] : [[k.key, k.last] as const])));
    },
  };
}
