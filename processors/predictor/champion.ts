// The champion's forecast of a vector: made when a champion is loaded, not expired, of the vector's
// feature set, and the series has a clean window of its last T vectors; otherwise there is none
// (the baselines are published either way) and the reason is counted. A result prepared ahead
// (batched) is used only for the very model and window.
import type { Registry } from '../../core/metrics.js';
import { counter } from '../../core/metrics.js';
import type { FeatureVector } from '../../schemas/types.js';
import type { FastPrediction } from '../../core/models/fast.js';
import type { Forecast } from './forecasts.js';
import { lastWindow } from '../../core/models/domain/dataset.js';
import type { ModelServer, ServingModel } from './model-server.js';

/** A champion prediction made ahead by prepareBatch, for the record at one partition:offset. */
export interface Prepared {
  model: ServingModel;
  /** The normalised window that was predicted; the handler uses the result only for an identical one. */
  x: Float32Array;
  result: FastPrediction;
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
    return 'window'; // history from Redis that does not form a clean series: no champion forecast for this record
  }
}

export function createChampionPredictions(deps: { server: ModelServer | undefined; registry: Registry; now: () => number }) {
  const { server, now } = deps;
  const fallbacks = counter(deps.registry, 'bitpredict_predictor_baseline_fallbacks_total', 'Records with no champion forecast although a champion is loaded', [
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
    /** The champion's forecast of f over its window w, or null (the reason is counted). */
    forecast(f: FeatureVector, w: FeatureVector[], ahead: Prepared | undefined): Forecast | null {
      const m = server?.current() ?? null; // read once: this record is predicted by one model
      if (m === null) return null;
      if (server?.isExpired(m, now())) {
        fallbacks.inc({ reason: 'expired' });
        return null;
      }
      const x = championWindow(m, f, w);
      if (typeof x === 'string') {
        fallbacks.inc({ reason: x });
        return null;
      }
      // The batched result only if it came from this very model for this very window; else singly.
      let r: FastPrediction;
      if (ahead !== undefined && ahead.model === m && ahead.model.version === m.version && sameWindow(ahead.x, x)) {
        r = ahead.result;
        batched.inc();
      } else {
        try {
          r = m.fast.predictOne(x);
        } catch {
          fallbacks.inc({ reason: 'invalid-forecast' }); // ERR_FORECAST_INVALID: crossing quantiles, bad scale
          return null;
        }
      }
      return { name: m.name, version: m.version, isBaseline: false, horizons: m.fast.horizons, distributions: r.distributions };
    },
  };
}
