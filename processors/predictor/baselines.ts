// The live baselines of every series the predictor sees: persistence, EWMA, HAR-RV and GARCH(1,1)
// (core/forecast/bank.ts), refitted at each UTC midnight of event time on the series' trailing
// window and asked for a forecast distribution per horizon for every feature vector, whatever the
// champion is. On a series' first vector after a start its state is rebuilt from the Redis feature
// history (the window plus one day of steps, so the refit at the last midnight sees what an
// uninterrupted predictor saw). Candles are pushed by their open time, as the research code
// (runBaselines over candle files) indexes them, so live and offline forecasts are the same numbers. Until the first fit, a warm-up persistence forecast (scale = mean
// |r| of the returns seen, Gaussian shape) is published under the version "warmup", clearly labelled.
import { createLiveBaselines, type LiveBaselines } from '../../core/forecast/bank.js';
import { gaussianShape, locationScale } from '../../core/forecast/distribution.js';
import { horizonsFor, type HorizonTable } from '../../core/forecast/horizons.js';
import { intervalMs } from '../../core/domain/intervals.js';
import { seriesKey } from '../../schemas/keys.js';
import type { FeatureVector } from '../../schemas/types.js';
import type { Forecast } from './forecasts.js';

const DAY = 86_400_000;

/** Steps a series needs before its first baseline fit (a fit needs returns for every horizon's shape). */
export const MIN_FIT_STEPS = 500;

/** A baseline's version names its fit: "fit-<end of the fit window>" (UTC, to the minute). */
export const fitVersion = (fitTo: number): string => `fit-${new Date(fitTo).toISOString().slice(0, 16)}Z`;

export interface SeriesBaselines {
  /** Rebuilds the series' state from history when it is new (idempotent; call before advancing the series). */
  seed(f: FeatureVector): Promise<void>;
  /** Pushes f (already validated, in order, not a duplicate) and returns every baseline's forecast of it. */
  forecast(f: FeatureVector): Forecast[];
  /** Drops these series: their next seed() rebuilds them from history. */
  forget(keys: Iterable<string>): void;
  /** Series known (for tests and metrics). */
  readonly size: number;
}

interface SeriesState {
  live: LiveBaselines;
  stepMs: number;
  horizons: readonly number[];
  /** Warm-up: the last close and the sum and count of |r| seen before the first fit. */
  lastClose: number | null;
  lastTime: number | null;
  sumAbs: number;
  count: number;
}

export function createSeriesBaselines(deps: {
  horizons: HorizonTable;
  window: number;
  /** The `n` feature vectors of f's series before f, oldest first (the Redis feature history). */
  historyBefore(f: FeatureVector, n: number): Promise<FeatureVector[]>;
}): SeriesBaselines {
  const series = new Map<string, SeriesState>();
  const warmupShape = gaussianShape();

  function push(s: SeriesState, v: FeatureVector): void {
    const time = v.openTime;
    const close = v.close;
    s.live.push(time, close);
    // The warm-up scale: returns between the closes seen, or the vector's own one-step return
    // (computed by the feature processor) where the previous close is not known here.
    if (s.lastClose !== null && s.lastTime !== null && time - s.lastTime === s.stepMs) {
      s.sumAbs += Math.abs(Math.log(close / s.lastClose));
      s.count++;
    } else if (v.logReturn1 !== null && Number.isFinite(v.logReturn1)) {
      s.sumAbs += Math.abs(v.logReturn1);
      s.count++;
    }
    s.lastClose = close;
    s.lastTime = time;
  }

  return {
    get size() {
      return series.size;
    },
    forget(keys) {
      for (const k of keys) series.delete(k);
    },
    async seed(f) {
      const key = seriesKey(f.symbol, f.interval);
      if (series.has(key)) return;
      const stepMs = intervalMs(f.interval);
      const horizons = horizonsFor(deps.horizons, f.interval);
      const history = await deps.historyBefore(f, deps.window + Math.ceil(DAY / stepMs));
      if (series.has(key)) return; // another record of the series seeded it meanwhile
      const s: SeriesState = {
        live: createLiveBaselines({ stepMs, horizons, window: deps.window, minFit: Math.min(deps.window, MIN_FIT_STEPS) }),
        stepMs,
        horizons,
        lastClose: null,
        lastTime: null,
        sumAbs: 0,
        count: 0,
      };
      for (const v of history) if (v.eventTime < f.eventTime) push(s, v);
      series.set(key, s);
    },
    forecast(f) {
      const s = series.get(seriesKey(f.symbol, f.interval));
      if (s === undefined) throw new Error(`series ${seriesKey(f.symbol, f.interval)} forecast before it was seeded`);
      push(s, f);
      const out = s.live.forecast();
      if (!('warmingUp' in out)) {
        const version = fitVersion(s.live.params()?.fitTo ?? f.eventTime);
        return [...out.entries()].map(([name, distributions]) => ({
          name,
          version,
          isBaseline: true,
          horizons: s.horizons,
          distributions,
        }));
      }
      // Warm-up: persistence from the returns seen so far (none, or all zero: nothing to publish).
      if (s.count === 0 || !(s.sumAbs > 0)) return [];
      const scale1 = s.sumAbs / s.count;
      return [
        {
          name: 'persistence',
          version: 'warmup',
          isBaseline: true,
          horizons: s.horizons,
          distributions: s.horizons.map((h) => locationScale(0, scale1 * Math.sqrt(h), warmupShape)),
        },
      ];
    },
  };
}
