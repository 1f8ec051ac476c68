import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { loadTf } from './tf.js';
import { buildModel } from './model.js';
import { predictHead } from '../../trainer/model/train.js';
import { gaussianForecastBlock } from './head.js';
import { loadArtifact, saveArtifact, type ArtifactMeta } from './artifact.js';

const T = 5;
const F = 3;
const COLUMNS = ['logReturn1', 'rsi14', 'volumeZ20'];

function meta(over: Partial<ArtifactMeta> = {}): ArtifactMeta {
  return {
    name: 'lstm-attn-btcusdt-1h',
    version: 'v1',
    featureSetVersion: 'fs-2',
    featureColumns: COLUMNS,
    normalizer: { columns: COLUMNS, mean: [0, 50, 0], std: [0.01, 10, 1] },
    T,
    F,
    forecast: gaussianForecastBlock([1, 4, 24]),
    trainedFrom: Date.UTC(2023, 0, 1),
    trainedTo: Date.UTC(2024, 11, 31),
    metrics: { valLoss: 1.23 },
    backend: 'wasm',
    codeVersion: 'test',
    createdAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
    expiresAt: null,
    seed: 7,
    hyperparameters: { units: 8, attentionUnits: 4 },
    ...over,
  };
}

const X = Float32Array.from({ length: 4 * T * F }, (_, i) => Math.sin(i * 0.7));

describe('model artifacts', () => {
  let store: string;
  let model: LayersModel;
  let dir: string;

  beforeAll(async () => {
    const { tf } = await loadTf();
    store = await mkdtemp(join(tmpdir(), 'bp-artifact-'));
    model = buildModel(tf, { T, F, H: 3, units: 8, attentionUnits: 4, seed: 7 });
    dir = await saveArtifact(tf, model, meta(), store);
  });
  afterAll(async () => {
    model.dispose();
    await rm(store, { recursive: true, force: true });
  });

  it('writes <store>/<name>/<version>/ with model.json, weights.bin, meta.json and no temp folder', async () => {
    expect(dir).toBe(join(store, 'lstm-attn-btcusdt-1h', 'v1'));
    expect((await readdir(dir)).sort()).toEqual(['meta.json', 'model.json', 'weights.bin']);
    expect(await readdir(join(store, 'lstm-attn-btcusdt-1h'))).toEqual(['v1']);
    const mj = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { format: string; weightsManifest: { paths: string[] }[] };
    expect(mj.format).toBe('layers-model');
    expect(mj.weightsManifest[0]!.paths).toEqual(['weights.bin']);
    expect(JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'))).toEqual(meta());
  });

  it('round trip gives identical predictions and the same meta', async () => {
    const { tf } = await loadTf();
    const loaded = await loadArtifact(tf, dir, { featureSetVersion: 'fs-2', featureColumns: COLUMNS });
    expect(loaded.meta).toEqual(meta());
    const a = predictHead(tf, model, X, 4, T, F);
    const b = predictHead(tf, loaded.model, X, 4, T, F);
    expect(Array.from(b.mu)).toEqual(Array.from(a.mu));
    expect(Array.from(b.sigma)).toEqual(Array.from(a.sigma));
    loaded.model.dispose();
  });

  it('refuses to overwrite an existing version', async () => {
    const { tf } = await loadTf();
    await expect(saveArtifact(tf, model, meta(), store)).rejects.toThrow(/lstm-attn-btcusdt-1h\/v1 already exists .* versions are immutable/);
    expect(await readdir(join(store, 'lstm-attn-btcusdt-1h'))).toEqual(['v1']);
  });

  it('refuses to save meta that does not match the model or is unsafe', async () => {
    const { tf } = await loadTf();
    await expect(saveArtifact(tf, model, meta({ version: 'v2', T: 6 }), store)).rejects.toThrow(/meta T=6, F=3 do not match the model input \[T=5, F=3\]/);
    await expect(saveArtifact(tf, model, meta({ version: '../evil' }), store)).rejects.toThrow(/version must be a path-safe name/);
    await expect(saveArtifact(tf, model, meta({ version: 'v2', forecast: gaussianForecastBlock([1]) }), store)).rejects.toThrow(
      /output layer has 6 units, but forecast.horizons \[1\] need 2/,
    );
    await expect(saveArtifact(tf, model, meta({ version: 'v2', forecast: undefined }), store)).rejects.toThrow(/no forecast block/);
  });

  /** Copies the good artifact, breaks it with `mutate`, and returns the load error. */
  async function broken(
    label: string,
    mutate: (d: string) => Promise<void>,
    expect_?: Parameters<typeof loadArtifact>[2],
  ): Promise<{ code: string; message: string }> {
    const { tf } = await loadTf();
    const d = join(store, 'broken', label);
    await cp(dir, d, { recursive: true });
    await mutate(d);
    try {
      await loadArtifact(tf, d, expect_);
    } catch (err) {
      return { code: (err as { code: string }).code, message: (err as Error).message };
    }
    throw new Error(`artifact ${label} was accepted`);
  }

  const editJson =
    (file: string, edit: (o: Record<string, unknown>) => void) =>
    async (d: string): Promise<void> => {
      const o = JSON.parse(await readFile(join(d, file), 'utf8')) as Record<string, unknown>;
      edit(o);
      await writeFile(join(d, file), JSON.stringify(o));
    };

  it.each([
    ['missing weights', async (d: string) => rm(join(d, 'weights.bin')), /weights\.bin: missing/],
    ['missing meta', async (d: string) => rm(join(d, 'meta.json')), /meta\.json: missing/],
    ['missing model', async (d: string) => rm(join(d, 'model.json')), /model\.json: missing/],
    ['bad json', async (d: string) => writeFile(join(d, 'model.json'), '{"modelTopology": '), /model\.json: not valid JSON/],
    ['bad meta json', async (d: string) => writeFile(join(d, 'meta.json'), 'nope'), /meta\.json: not valid JSON/],
    [
      'truncated weights',
      async (d: string) => writeFile(join(d, 'weights.bin'), (await readFile(join(d, 'weights.bin'))).subarray(0, 100)),
      /weights\.bin: 100 bytes, but model\.json declares \d+ bytes/,
    ],
    [
      'unknown layer',
      editJson('model.json', (o) => {
        const layers = (o as { modelTopology: { config: { layers: { class_name: string }[] } } }).modelTopology.config.layers;
        layers.find((l) => l.class_name === 'BitPredictAdditiveAttention')!.class_name = 'NoSuchLayer';
      }),
      /model\.json: topology or weights do not load .*NoSuchLayer/,
    ],
    [
      'T mismatch',
      editJson('meta.json', (o) => {
        o.T = 9;
      }),
      /model\.json: model input \[T=5, F=3\] .* do not match meta\.json \(T=9, F=3/,
    ],
    [
      'F/columns mismatch',
      editJson('meta.json', (o) => {
        o.F = 4;
      }),
      /meta\.json: featureColumns has 3 columns but F is 4/,
    ],
    [
      'normalizer length',
      editJson('meta.json', (o) => {
        (o.normalizer as { std: number[] }).std = [1];
      }),
      /meta\.json: normalizer\.std must be 3 finite numbers/,
    ],
    [
      'missing field',
      editJson('meta.json', (o) => {
        delete o.codeVersion;
      }),
      /meta\.json: codeVersion must be a non-empty string/,
    ],
    [
      'bad manifest path',
      editJson('model.json', (o) => {
        (o.weightsManifest as { paths: string[] }[])[0]!.paths = ['../../etc/passwd'];
      }),
      /model\.json: weightsManifest paths must be \["weights\.bin"\]/,
    ],
  ] as const)('refuses %s with a message naming the file', async (label, mutate, re) => {
    const e = await broken(label.replace(/\W+/g, '-'), mutate);
    expect(e.code).toBe('ERR_VALIDATION');
    expect(e.message).toMatch(re);
  });

  const editForecast = (edit: (f: Record<string, unknown>) => void) =>
    editJson('meta.json', (o) => {
      edit(o.forecast as Record<string, unknown>);
    });

  it.each([
    [
      'an old point-forecast artifact (no forecast block)',
      editJson('meta.json', (o) => {
        delete o.forecast;
        o.returnScale = 0.01;
      }),
      /meta\.json: the artifact has no forecast block: it is an old point-forecast model; retrain it/,
    ],
    [
      'crossing shape quantiles',
      editForecast((f) => {
        const shapes = f.shapes as { z: number[] }[];
        shapes[2]!.z[120] = shapes[2]!.z[0]! - 1;
      }),
      /meta\.json: forecast\.shapes\[2\] \(horizon 24\): shape quantiles cross/,
    ],
    [
      'a non-finite target scale',
      editForecast((f) => {
        (f.targetScales as unknown[])[1] = 'Infinity';
      }),
      /forecast\.targetScales\[1\] \(horizon 4\) is "Infinity", not a finite number > 0/,
    ],
    [
      'a non-positive target scale',
      editForecast((f) => {
        (f.targetScales as number[])[0] = 0;
      }),
      /forecast\.targetScales\[0\] \(horizon 1\) is 0/,
    ],
    [
      'horizons that do not match the output layer',
      editForecast((f) => {
        f.horizons = [1, 4];
        f.targetScales = [0.01, 0.02];
        f.shapes = (f.shapes as unknown[]).slice(0, 2);
      }),
      /output layer has 6 units, but forecast\.horizons \[1,4\] need 4/,
    ],
  ] as const)('refuses %s with ERR_FORECAST_INVALID', async (label, mutate, re) => {
    const e = await broken(label.replace(/\W+/g, '-'), mutate);
    expect(e.code).toBe('ERR_FORECAST_INVALID');
    expect(e.message).toMatch(re);
  });

  it('refuses a feature-set version or column list it was not built for', async () => {
    const e1 = await broken('fsv', async () => undefined, { featureSetVersion: 'fs-3' });
    expect(e1.message).toMatch(/meta\.json: featureSetVersion is "fs-2", this service computes "fs-3"/);
    const e2 = await broken('cols', async () => undefined, { featureColumns: ['logReturn1', 'rsi14', 'macd'] });
    expect(e2.message).toMatch(/meta\.json: featureColumns differ from the expected 3 columns at index 2 \(artifact "volumeZ20", expected "macd"\)/);
    const e3 = await broken('cols-len', async () => undefined, { featureColumns: COLUMNS.slice(0, 2) });
    expect(e3.message).toMatch(/at index 2 \(artifact "volumeZ20", expected null\)/);
  });
});
