// The champion's part of a prediction: the baseline's prediction of a vector is replaced by the
// champion's when a champion is loaded, not expired, of the vector's feature set, and the series
// has a clean window of its last T vectors; otherwise the baseline stands and the reason is
// counted. A result prepared ahead (batched) is used only for the very model and window.
import type { Registry } from '../../core/metrics.js';
import { counter } from '../../core/metrics.js';
import type { FeatureVector, Prediction } from '../../schemas/types.js';
import { lastWindow } from '../../core/models/domain/dataset.js';
import type { ModelServer, ServingModel } from './model-server.js';

/** A champion prediction made ahead by prepareBatch, for the record at one partition:offset. */
export interface Prepared {
  model: ServingModel;
  /** The normalised window that was predicted; the handler uses the result only for an identical one. */
  x: Float32Array;
  ret: number;
  probUp: number;
}

function sameWindow(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The normalised window the champion m predicts for f, or why there is none. */
export function championWindow(m: ServingModel, f: FeatureVector, w: FeatureVector[]): Float32Array | 'feature-set' | 'window' {
  if (f.featureSetVersion !== m.featureSetVersion) return 'feature-set';
  try {
    return lastWindow(w, m.T, m.normalizer) ?? 'window';
  } catch {
    return 'window'; // history from Redis that does not form a clean series: baseline for this record
  }
}

export function createChampionPredictions(deps: { server: ModelServer | undefined; registry: Registry; now: () => number }) {
  const { server, now } = deps;
  const fallbacks = counter(deps.registry, 'bitpredict_predictor_baseline_fallbacks_total', 'Records the baseline predicted although a champion is loaded', [
    'reason',
  ]);
  const batched = counter(
    deps.registry,
    'bitpredict_predictor_batched_total',
    'Champion predictions taken from a batched inference made ahead by prepareBatch (backlog, replay)',
  );

  return {
    /** The champion that may predict now (not expired), or null. */
    current(): ServingModel | null {
      const m = server?.current() ?? null;
      return m === null || server?.isExpired(m, now()) ? null : m;
    },
    /** The prediction of f: the champion's over its window w, else `base`. */
    predict(f: FeatureVector, base: Prediction, w: FeatureVector[], ahead: Prepared | undefined): Prediction {
      const m = server?.current() ?? null; // read once: this record is predicted by one model
      if (m === null) return base;
      if (server?.isExpired(m, now())) {
        fallbacks.inc({ reason: 'expired' });
        return base;
      }
      const x = championWindow(m, f, w);
      if (typeof x === 'string') {
        fallbacks.inc({ reason: x });
        return base;
      }
      // The batched result only if it came from this very model for this very window; else singly.
      let r: { ret: number; probUp: number };
      if (ahead !== undefined && ahead.model === m && ahead.model.version === m.version && sameWindow(ahead.x, x)) {
        r = ahead;
        batched.inc();
      } else {
        try {
          r = m.fast.predictOne(x);
        } catch {
          // ERR_FORECAST_INVALID: the head gave no valid distribution for this window (for example a
          // non-finite input that passed the normaliser); the baseline serves this record.
          fallbacks.inc({ reason: 'non-finite' });
          return base;
        }
      }
      if (!Number.isFinite(r.ret) || !Number.isFinite(r.probUp)) {
        fallbacks.inc({ reason: 'non-finite' });
        return base;
      }
      return {
        ...base,
        predictedLogReturn: r.ret,
        predictedPrice: f.close * Math.exp(r.ret),
        probUp: r.probUp,
        modelName: m.name,
        modelVersion: m.version,
        isBaseline: false,
      };
    },
  };
}
