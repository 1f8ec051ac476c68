// Publishing of the live scores the monitor (trainer/domain/monitor.ts) computes: each Score goes
// to the `scores` topic (Avro through platform.serde, key "symbol:interval", record timestamp =
// the score's eventTime), to the Redis hash scoresLatest(symbol) (field
// "<interval>|<modelName>|<horizonSteps>|<windowMs>", what the gateway's REST route and the
// scores:<SYMBOL> snapshot read), and to Prometheus gauges (bitpredict_monitor_*).
//
// Throttle: the flusher publishes what changed at most once per `everyMs` of wall clock (default
// 1 s), newest values only. A fast replay that resolves thousands of forecasts a second therefore
// publishes at most one Score per (series, forecaster, horizon, window) per second, not one per
// record; live, where an hourly candle resolves a handful of forecasts, every outcome is published
// within a second. Scores a failed publish could not deliver are kept (newest wins) and go out
// with the next flush.
import type { Logger } from '../core/logger.js';
import type { Redis } from '../core/redis.js';
import { redisKeys } from '../core/redis.js';
import type { Platform } from '../core/runtime.js';
import type { Producer } from '../core/kafka/producer.js';
import { counter, gauge, type Gauge } from '../core/metrics.js';
import { seriesKey } from '../schemas/keys.js';
import type { Score } from '../schemas/types.js';

/** The scoresLatest hash field of a score. */
export function scoreField(s: Pick<Score, 'interval' | 'modelName' | 'horizonSteps' | 'windowMs'>): string {
  return `${s.interval}|${s.modelName}|${s.horizonSteps}|${s.windowMs}`;
}

/** A window as a metric label: 24h, 7d, 30d (whole days or hours), else milliseconds. */
export function windowLabel(ms: number): string {
  if (ms % 86_400_000 === 0 && ms !== 86_400_000) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${ms}ms`;
}

export interface ScorePublisher {
  /** Sends the scores to Kafka, then writes Redis and the gauges; throws when Kafka or Redis fails. */
  publish(scores: Score[]): Promise<void>;
}

type Labels = 'series' | 'model' | 'horizon' | 'window';

function createScoreGauges(platform: Platform) {
  const r = platform.registry;
  const labels: Labels[] = ['series', 'model', 'horizon', 'window'];
  const g = (name: string, help: string): Gauge<Labels> => gauge(r, `bitpredict_monitor_${name}`, help, labels);
  const values: [Gauge<Labels>, (s: Score) => number | null][] = [
    [g('pinball_loss', 'Rolling live mean pinball loss over the quantile grid (log-return units)'), (s) => s.pinballLoss],
    [g('scale_qlike', 'Rolling live mean QLIKE loss of the forecast scale'), (s) => s.scaleLoss],
    [g('mean_squared_error', 'Rolling live mean squared error of the forecast mean log return'), (s) => s.meanSquaredError],
    [g('brier_score', 'Rolling live mean Brier score of P(up)'), (s) => s.brierScore],
    [g('skill_vs_persistence', 'Rolling live skill 1 - loss / persistence loss on the same targets (positive: better)'), (s) => s.skillVsPersistence],
    [g('skill_vs_best_baseline', 'Rolling live skill 1 - loss / best other baseline loss on the same targets'), (s) => s.skillVsBestBaseline ?? null],
    [g('samples', 'Forecasts scored in the rolling window'), (s) => s.samples],
    [g('missing', 'Forecasts in the rolling window whose realised candle never arrived (gaps)'), (s) => s.missing],
  ];
  const levelLabels: (Labels | 'level')[] = [...labels, 'level'];
  const coverage = gauge(r, 'bitpredict_monitor_coverage_ratio', 'Rolling live share of outcomes inside the central forecast interval', levelLabels);
  const width = gauge(r, 'bitpredict_monitor_interval_width', 'Rolling live mean width of the central forecast interval (log-return units)', levelLabels);
  return (s: Score): void => {
    const l = { series: seriesKey(s.symbol, s.interval), model: s.modelName, horizon: String(s.horizonSteps), window: windowLabel(s.windowMs) };
    // A loss that became undefined (no quantiles any more, say) must not leave its old value behind.
    for (const [gg, of] of values) {
      const v = of(s);
      if (v === null) gg.remove(l);
      else gg.set(l, v);
    }
    for (const c of s.coverage) {
      coverage.set({ ...l, level: String(c.level) }, c.coverage);
      width.set({ ...l, level: String(c.level) }, c.meanWidth);
    }
  };
}

export function createScorePublisher(deps: { platform: Platform; producer: Producer; redis: Redis; keyPrefix: string }): ScorePublisher {
  const { platform, producer, redis } = deps;
  const keys = redisKeys(deps.keyPrefix);
  const topic = platform.kafka.topic('scores');
  const setGauges = createScoreGauges(platform);
  const published = counter(platform.registry, 'bitpredict_monitor_scores_published_total', 'Score records published to the scores topic');
  return {
    async publish(scores) {
      if (scores.length === 0) return;
      await producer.send(
        scores.map((s) => ({ topic, key: seriesKey(s.symbol, s.interval), value: platform.serde.encode('scores', s), timestamp: s.eventTime })),
      );
      const bySymbol = new Map<string, Record<string, string>>();
      for (const s of scores) {
        let h = bySymbol.get(s.symbol);
        if (!h) bySymbol.set(s.symbol, (h = {}));
        h[scoreField(s)] = JSON.stringify(s);
      }
      const multi = redis.multi();
      for (const [symbol, fields] of bySymbol) multi.hset(keys.scoresLatest(symbol), fields);
      const results = await multi.exec();
      const failed = results?.find(([err]) => err !== null)?.[0];
      if (failed) throw failed;
      for (const s of scores) setGauges(s);
      published.inc(scores.length);
    },
  };
}

export interface ScoreFlusher {
  /** Publishes what changed since the last flush (and what a failed flush kept); one flush at a time. */
  flush(): Promise<void>;
  /** Scores waiting for a retry after a failed publish. */
  readonly carried: number;
}

/** The throttled path from the monitor to the publisher: call flush() on a timer of `everyMs` and once at shutdown. */
export function createScoreFlusher(deps: { take(computedAt: number): Score[]; publisher: ScorePublisher; now: () => number; logger: Logger }): ScoreFlusher {
  const carry = new Map<string, Score>();
  let running: Promise<void> | null = null;
  const fieldOf = (s: Score): string => `${s.symbol}|${scoreField(s)}`;
  async function once(): Promise<void> {
    for (const s of deps.take(deps.now())) carry.set(fieldOf(s), s);
    if (carry.size === 0) return;
    const batch = [...carry.values()];
    carry.clear();
    try {
      await deps.publisher.publish(batch);
    } catch (err) {
      // Keep them for the next flush unless a newer score of the same field arrived meanwhile.
      for (const s of batch) if (!carry.has(fieldOf(s))) carry.set(fieldOf(s), s);
      deps.logger.warn({ err, scores: batch.length }, 'publishing live scores failed; retrying with the next flush');
    }
  }
  return {
    flush() {
      running ??= once().finally(() => {
        running = null;
      });
      return running;
    },
    get carried() {
      return carry.size;
    },
  };
}
