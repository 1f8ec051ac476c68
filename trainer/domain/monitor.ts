// Live error monitor (pure): joins each prediction made at t for t + h with the realised log
// return once the candle closing at t + h is known, and keeps a rolling window of squared errors
// of the model and of persistence (a zero forecast) on the same predictions. `degraded` says when
// the model's rolling MSE exceeds persistence's by more than a threshold: the trigger for an early
// retrain. Baseline predictions (isBaseline) are tracked apart from the model's.
import { BitPredictError } from '../../core/errors.js';

export interface PendingPrediction {
  series: string;
  targetTime: number;
  predictedLogReturn: number;
  modelVersion: string;
  isBaseline: boolean;
}

export interface MonitorSnapshot {
  n: number;
  mse: number | null;
  persistenceMse: number | null;
  /** mse / persistenceMse - 1 (positive = worse than persistence) */
  relative: number | null;
  directionalAccuracy: number | null;
}

export interface ErrorMonitor {
  /** Registers a prediction; returns false for a duplicate (same series and target time). */
  predicted(p: PendingPrediction): boolean;
  /**
   * A realised one-period log return at `time` (the close time of the candle); scores the pending
   * prediction for it (returns 1), or keeps it for a prediction that arrives later (returns 0).
   */
  realised(series: string, time: number, logReturn: number | null): number;
  snapshot(kind: 'model' | 'baseline'): MonitorSnapshot;
  degraded(threshold: number, minSamples: number): boolean;
  /** Pending predictions (bounded: oldest dropped beyond maxPending). */
  readonly pending: number;
  reset(): void;
}

export function createErrorMonitor(opts: { window: number; maxPending?: number }): ErrorMonitor {
  if (!Number.isSafeInteger(opts.window) || opts.window < 1)
    throw new BitPredictError('ERR_VALIDATION', `monitor window ${String(opts.window)} must be an integer >= 1`);
  const maxPending = opts.maxPending ?? 100_000;
  const pending = new Map<string, PendingPrediction>();
  // Realised returns seen before their prediction (the two topics are read interleaved).
  const early = new Map<string, number | null>();
  const rings = {
    model: { model: [] as number[], persistence: [] as number[], hits: [] as number[] },
    baseline: { model: [] as number[], persistence: [] as number[], hits: [] as number[] },
  };
  const key = (series: string, t: number): string => `${series}@${t}`;
  const push = (arr: number[], v: number): void => {
    arr.push(v);
    if (arr.length > opts.window) arr.shift();
  };
  const mean = (a: number[]): number | null => (a.length === 0 ? null : a.reduce((s, x) => s + x, 0) / a.length);
  const score = (p: PendingPrediction, logReturn: number | null): number => {
    // After a gap the realised one-period return is undefined: the prediction is not scored.
    if (logReturn === null || !Number.isFinite(logReturn)) return 0;
    const r = p.isBaseline ? rings.baseline : rings.model;
    push(r.model, (p.predictedLogReturn - logReturn) ** 2);
    push(r.persistence, logReturn ** 2);
    push(r.hits, p.predictedLogReturn > 0 === logReturn > 0 ? 1 : 0);
    return 1;
  };
  const bound = (m: Map<string, unknown>): void => {
    if (m.size > maxPending) {
      const oldest = m.keys().next().value;
      if (oldest !== undefined) m.delete(oldest);
    }
  };
  return {
    predicted(p) {
      const k = key(p.series, p.targetTime);
      if (pending.has(k)) return false;
      if (!Number.isFinite(p.predictedLogReturn)) throw new BitPredictError('ERR_VALIDATION', `prediction for ${k} has a non-finite log return`);
      if (early.has(k)) {
        const r = early.get(k) ?? null;
        early.delete(k);
        score(p, r);
        return true;
      }
      pending.set(k, p);
      bound(pending);
      return true;
    },
    realised(series, time, logReturn) {
      const k = key(series, time);
      const p = pending.get(k);
      if (!p) {
        early.set(k, logReturn);
        bound(early);
        return 0;
      }
      pending.delete(k);
      return score(p, logReturn);
    },
    snapshot(kind) {
      const r = rings[kind];
      const mse = mean(r.model);
      const pm = mean(r.persistence);
      return {
        n: r.model.length,
        mse,
        persistenceMse: pm,
        relative: mse === null || pm === null || pm === 0 ? null : mse / pm - 1,
        directionalAccuracy: mean(r.hits),
      };
    },
    degraded(threshold, minSamples) {
      const s = this.snapshot('model');
      return s.n >= minSamples && s.relative !== null && s.relative > threshold;
    },
    get pending() {
      return pending.size;
    },
    reset() {
      for (const r of Object.values(rings)) {
        r.model.length = 0;
        r.persistence.length = 0;
        r.hits.length = 0;
      }
    },
  };
}
