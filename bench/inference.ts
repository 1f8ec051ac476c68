// inference: latency of one prediction (one window of T=48 real hourly BTCUSDT feature rows)
// through the LSTM-attention model, p50/p99 over 1000 calls, and batched throughput (batches of
// 256). Two paths over the SAME weights:
//   - live path (headline p50_ms/p99_ms): core/models/fast.ts, the model's forward pass in
//     plain JS Float32Arrays (a window at a time, as the live predictor sees them);
//   - baseline: tfjs model.predict on the default backend (wasm) for the same single window.
//   ratio = baseline p50 / live p50 (speed-up). batch_predictions_per_s is tfjs wasm with batches
//   of 256 (replay), beside the JS path over the same windows. Also: a no-op tensor round trip
//   (upload + read back, no model) and the cpu backend, for scale. The bench checks that both
//   paths give the same outputs. The model is freshly built with the default hyperparameters
//   (latency does not depend on the weights values).
import { percentile, progress } from './common.js';
import { bar, loadBenchData, T } from './training.js';
import { loadTf, type TfBackend } from '../core/models/tf.js';
import { buildModel, MODEL_DEFAULTS } from '../core/models/model.js';
import { predictHead } from '../trainer/model/train.js';
import { gaussianForecastBlock } from '../core/models/head.js';
import { createFastPredictor } from '../core/models/fast.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const BATCH = 256;
const BATCHES = Number(process.env.BENCH_BATCHES ?? 20);

const r3 = (x: number): number => Number(x.toFixed(3));
function stats(ms: number[]): { p50: number; p99: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: r3(percentile(s, 50)), p99: r3(percentile(s, 99)) };
}

export async function run(): Promise<Record<string, unknown>> {
  const data = await loadBenchData();
  const src = data.val; // windows of 2024-11..12 (never the final window)
  const F = src.F;
  const row = T * F;
  const out: Record<string, unknown> = {
    data: data.source,
    T,
    F,
    calls: CALLS,
    batch: BATCH,
    model: { units: MODEL_DEFAULTS.units, attentionUnits: MODEL_DEFAULTS.attentionUnits },
  };
  const window = (i: number): Float32Array => src.X.subarray((i % src.n) * row, ((i % src.n) + 1) * row);
  for (const backend of ['wasm', 'cpu'] as TfBackend[]) {
    let tf;
    try {
      ({ tf } = await loadTf(backend));
    } catch {
      progress(`${backend}: does not load here`);
      continue;
    }
    // The distributional head for the hourly horizons 1, 4, 24 (an untrained model: Gaussian shapes).
    const model = buildModel(tf, { T, F, H: 3, seed: 1 });
    const fast = createFastPredictor(model, gaussianForecastBlock([1, 4, 24]));
    const calls = backend === 'wasm' ? CALLS : Math.min(CALLS, 200);
    // Same outputs on both paths (checked on real windows).
    const nCheck = Math.min(64, src.n);
    const ref = predictHead(tf, model, src.X.subarray(0, nCheck * row), nCheck, T, F);
    const mine = fast.kernel.forwardMany(src.X.subarray(0, nCheck * row), nCheck);
    let maxDiff = 0;
    for (let i = 0; i < ref.mu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref.mu[i]! - mine.mu[i]!), Math.abs(ref.sigma[i]! - mine.sigma[i]!));
    if (maxDiff > 1e-4) throw new Error(`JS forward pass differs from tfjs by ${maxDiff}`);
    for (let i = 0; i < 20; i++) {
      predictHead(tf, model, window(i), 1, T, F);
      fast.predictOne(window(i));
    }
    const live: number[] = [];
    const tfjs: number[] = [];
    const roundTrip: number[] = [];
    for (let i = 0; i < calls; i++) {
      const x = window(i);
      let t0 = performance.now();
      fast.predictOne(x);
      live.push(performance.now() - t0);
      t0 = performance.now();
      predictHead(tf, model, x, 1, T, F);
      tfjs.push(performance.now() - t0);
      t0 = performance.now();
      tf.tidy(() => tf.tensor3d(x, [1, T, F]).dataSync());
      roundTrip.push(performance.now() - t0);
      if ((i + 1) % 100 === 0) bar(`${backend} single-window calls`, i + 1, calls);
    }
    const batches = backend === 'wasm' ? BATCHES : Math.max(2, Math.floor(BATCHES / 5));
    const n = Math.min(src.n, BATCH * batches);
    const X = src.X.subarray(0, n * row);
    predictHead(tf, model, X.subarray(0, BATCH * row), BATCH, T, F, BATCH); // warm-up
    let t0 = performance.now();
    predictHead(tf, model, X, n, T, F, BATCH);
    const batchS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    fast.predictMany(X, n);
    const fastBatchS = (performance.now() - t0) / 1000;
    model.dispose();
    const l = stats(live);
    const b = stats(tfjs);
    const rt = stats(roundTrip);
    progress(
      `${backend}: live JS p50 ${l.p50} ms p99 ${l.p99} ms; tfjs single p50 ${b.p50} ms p99 ${b.p99} ms; round trip p50 ${rt.p50} ms; batched tfjs ${(n / batchS).toFixed(0)}/s, JS ${(n / fastBatchS).toFixed(0)}/s`,
    );
    if (backend === 'wasm') {
      Object.assign(out, {
        backend,
        p50_ms: l.p50,
        p99_ms: l.p99,
        batch_predictions_per_s: Math.round(n / batchS),
        js_batch_predictions_per_s: Math.round(n / fastBatchS),
        baseline_tfjs_p50_ms: b.p50,
        baseline_tfjs_p99_ms: b.p99,
        round_trip_p50_ms: rt.p50,
        round_trip_p99_ms: rt.p99,
        ratio: Number((b.p50 / l.p50).toFixed(1)),
        max_output_diff: Number(maxDiff.toExponential(2)),
        batched_windows: n,
      });
    } else {
      out[backend] = { tfjs_p50_ms: b.p50, tfjs_p99_ms: b.p99, batch_predictions_per_s: Math.round(n / batchS), calls, batched_windows: n };
    }
  }
  out.goal_p99_ms = 20;
  out.baseline = 'tfjs model.predict of the same model and window on wasm (ratio = its p50 / the live JS path p50)';
  return out;
}
