// Versioned model artifacts on disk: <storeDir>/<name>/<version>/{model.json, weights.bin, meta.json}.
// model.json is the tfjs "layers-model" format (topology + weightsManifest pointing at weights.bin).
// Saving writes a temp folder beside the target and renames it into place, so a reader never sees
// a half-written version. Loading checks everything it can and refuses with ERR_VALIDATION naming
// the file at fault, so the caller can keep serving the previous champion. A model without a
// servable distributional head (no `forecast` block: an old point-forecast artifact; crossing
// shapes; bad target scales; horizons that do not match the output layer) is refused with
// ERR_FORECAST_INVALID.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { LayersModel, io } from '@tensorflow/tfjs';
import type { TfModule, TfBackend } from './tf.js';
import { BitPredictError } from '../errors.js';
import { attentionLayerClass, headUnits } from './model.js';
import { HEAD_LAYER, parseForecastBlock, type ForecastBlock } from './head.js';
import { validateLineage, type ArtifactLineage } from './lineage.js';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const META_FILE = 'meta.json';

export interface ArtifactMeta {
  name: string;
  version: string;
  featureSetVersion: string;
  featureColumns: string[];
  normalizer: { columns: string[]; mean: number[]; std: number[] };
  T: number;
  F: number;
  /** Legacy point-forecast artifacts only (their `ret` head predicted logReturn / returnScale). */
  returnScale?: number;
  /**
   * The distributional head: horizons, target scales, calibrated shapes (core/models/head.ts).
   * Optional in the type because older meta.json files are still listed; loading refuses without it.
   */
  forecast?: ForecastBlock;
  trainedFrom: number; // ms, first window end time used for training
  trainedTo: number; // ms, last window end time used for training
  metrics: Record<string, number>;
  backend: TfBackend;
  codeVersion: string;
  createdAt: string; // ISO-8601
  expiresAt: string | null; // ISO-8601
  seed: number;
  hyperparameters: Record<string, number | string | boolean>;
  /**
   * What the model was trained on: data sources (file hashes or topic offsets), the code commit
   * (core/models/lineage.ts). Absent in artifacts saved before lineage was kept; they still load.
   */
  lineage?: ArtifactLineage;
}

/** The meta of a servable artifact: its forecast block is present and checked. */
export type ServableMeta = ArtifactMeta & { forecast: ForecastBlock };

export interface LoadedArtifact {
  model: LayersModel;
  meta: ServableMeta;
  dir: string;
}

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

function invalid(message: string, file?: string, cause?: unknown): BitPredictError {
  return new BitPredictError('ERR_VALIDATION', message, { cause, details: file ? { file } : undefined });
}

/** Checks the shape of a meta object; `file` names the source in messages. */
export function validateMeta(m: unknown, file: string): ArtifactMeta {
  const bad = (field: string, why: string): never => {
    throw invalid(`${file}: ${field} ${why}`, file);
  };
  if (typeof m !== 'object' || m === null || Array.isArray(m)) bad('(root)', 'must be a JSON object');
  const o = m as Record<string, unknown>;
  for (const k of ['name', 'version'] as const) {
    if (typeof o[k] !== 'string' || !SAFE_SEGMENT.test(o[k]))
      bad(k, `must be a path-safe name ([A-Za-z0-9._-], not starting with . or -), got ${JSON.stringify(o[k])}`);
  }
  for (const k of ['featureSetVersion', 'codeVersion', 'createdAt'] as const) {
    if (typeof o[k] !== 'string' || o[k] === '') bad(k, `must be a non-empty string, got ${JSON.stringify(o[k])}`);
  }
  const isInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
  if (!isInt(o.T)) bad('T', `must be a positive integer, got ${JSON.stringify(o.T)}`);
  if (!isInt(o.F)) bad('F', `must be a positive integer, got ${JSON.stringify(o.F)}`);
  if (!Number.isInteger(o.seed)) bad('seed', `must be an integer, got ${JSON.stringify(o.seed)}`);
  if (o.returnScale !== undefined && (typeof o.returnScale !== 'number' || !(o.returnScale > 0)))
    bad('returnScale', `must be a positive number when present, got ${JSON.stringify(o.returnScale)}`);
  for (const k of ['trainedFrom', 'trainedTo'] as const) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) bad(k, `must be a time in ms, got ${JSON.stringify(o[k])}`);
  }
  if ((o.trainedFrom as number) > (o.trainedTo as number)) bad('trainedFrom', `(${String(o.trainedFrom)}) is after trainedTo (${String(o.trainedTo)})`);
  if (!['tensorflow', 'wasm', 'cpu'].includes(o.backend as string)) bad('backend', `must be tensorflow, wasm or cpu, got ${JSON.stringify(o.backend)}`);
  if (o.expiresAt !== null && typeof o.expiresAt !== 'string') bad('expiresAt', `must be an ISO time or null, got ${JSON.stringify(o.expiresAt)}`);
  const cols = o.featureColumns;
  if (!Array.isArray(cols) || !cols.every((c) => typeof c === 'string')) bad('featureColumns', 'must be an array of strings');
  if ((cols as string[]).length !== o.F) bad('featureColumns', `has ${(cols as string[]).length} columns but F is ${String(o.F)}`);
  const norm = o.normalizer as Record<string, unknown> | null;
  if (typeof norm !== 'object' || norm === null) bad('normalizer', 'must be an object { columns, mean, std }');
  const nc = norm!.columns;
  if (!Array.isArray(nc) || !nc.every((c) => typeof c === 'string')) bad('normalizer.columns', 'must be an array of strings');
  for (const k of ['mean', 'std'] as const) {
    const a = norm![k];
    if (!Array.isArray(a) || a.length !== (nc as string[]).length || !a.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      bad(`normalizer.${k}`, `must be ${(nc as string[]).length} finite numbers (one per normalizer column)`);
    }
  }
  if (typeof o.metrics !== 'object' || o.metrics === null || !Object.values(o.metrics).every((v) => typeof v === 'number'))
    bad('metrics', 'must be an object of numbers');
  if (typeof o.hyperparameters !== 'object' || o.hyperparameters === null) bad('hyperparameters', 'must be an object');
  if (o.lineage !== undefined) validateLineage(o.lineage, file);
  return o as unknown as ArtifactMeta;
}

/** Folder of one artifact version. */
export function artifactDir(storeDir: string, name: string, version: string): string {
  if (!SAFE_SEGMENT.test(name)) throw invalid(`artifact name ${JSON.stringify(name)} is not path-safe`);
  if (!SAFE_SEGMENT.test(version)) throw invalid(`artifact version ${JSON.stringify(version)} is not path-safe`);
  return join(resolve(storeDir), name, version);
}

function modelShape(model: LayersModel): [unknown, unknown] {
  const s = model.inputs[0]?.shape ?? [];
  return [s[1], s[2]];
}

/**
 * Saves model + meta as `<storeDir>/<meta.name>/<meta.version>/` atomically. Refuses to overwrite
 * an existing version (versions are immutable). Returns the folder.
 */
export async function saveArtifact(tf: TfModule, model: LayersModel, meta: ArtifactMeta, storeDir: string): Promise<string> {
  validateMeta(meta, META_FILE);
  const [T, F] = modelShape(model);
  if (T !== meta.T || F !== meta.F) throw invalid(`meta T=${meta.T}, F=${meta.F} do not match the model input [T=${String(T)}, F=${String(F)}]`);
  parseForecastBlock(meta.forecast, headUnits(model) ?? 0, META_FILE);
  const dir = artifactDir(storeDir, meta.name, meta.version);
  const parent = resolve(dir, '..');
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.tmp-${meta.version}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    await model.save(
      tf.io.withSaveHandler(async (artifacts: io.ModelArtifacts) => {
        const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
        const modelJson = {
          format: 'layers-model',
          generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
          convertedBy: null,
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        };
        await writeFile(join(tmp, WEIGHTS_FILE), new Uint8Array(data));
        await writeFile(join(tmp, MODEL_FILE), JSON.stringify(modelJson));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: data.byteLength } };
      }),
    );
    await writeFile(join(tmp, META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
    try {
      await rename(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST')
        throw invalid(`artifact ${meta.name}/${meta.version} already exists in ${parent}; versions are immutable`, dir, err);
      throw err;
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

async function readFileOrThrow(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw invalid(`${path}: ${code === 'ENOENT' ? 'missing' : `unreadable (${code ?? String(err)})`}`, path, err);
  }
}

function parseJson(buf: Buffer, path: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw invalid(`${path}: not valid JSON (${err instanceof Error ? err.message : String(err)})`, path, err);
  }
}

export interface ArtifactExpectation {
  featureSetVersion?: string;
  featureColumns?: readonly string[];
}

/**
 * Where an artifact's three files come from: a folder (loadArtifact) or bytes already read from
 * elsewhere (the model-artifacts topic, core/models/kafka-artifact.ts). `path` names a file in
 * messages; `read` throws ERR_VALIDATION naming the file when it is missing or unreadable.
 */
export interface ArtifactSource {
  /** The folder or URI of the artifact, for LoadedArtifact.dir and logs. */
  location: string;
  path(file: string): string;
  read(file: string): Promise<Buffer>;
}

/** Loads and checks an artifact folder; every problem throws ERR_VALIDATION naming the file. */
export async function loadArtifact(tf: TfModule, dir: string, expect: ArtifactExpectation = {}): Promise<LoadedArtifact> {
  return loadArtifactFrom(tf, { location: dir, path: (file) => join(dir, file), read: (file) => readFileOrThrow(join(dir, file)) }, expect);
}

/** Artifact files held in memory (for example read from Kafka), checked exactly as a folder is. */
export function memorySource(location: string, files: ReadonlyMap<string, Buffer>): ArtifactSource {
  const path = (file: string): string => `${location}/${file}`;
  return {
    location,
    path,
    read: (file) => {
      const bytes = files.get(file);
      return bytes === undefined ? Promise.reject(invalid(`${path(file)}: missing`, path(file))) : Promise.resolve(bytes);
    },
  };
}

/** Loads and checks an artifact from any source; every problem throws ERR_VALIDATION naming the file. */
export async function loadArtifactFrom(tf: TfModule, src: ArtifactSource, expect: ArtifactExpectation = {}): Promise<LoadedArtifact> {
  const modelPath = src.path(MODEL_FILE);
  const weightsPath = src.path(WEIGHTS_FILE);
  const metaPath = src.path(META_FILE);
  const parsed = validateMeta(parseJson(await src.read(META_FILE), metaPath), metaPath);
  const meta: ServableMeta = { ...parsed, forecast: parseForecastBlock(parsed.forecast, undefined, metaPath) };
  if (expect.featureSetVersion !== undefined && meta.featureSetVersion !== expect.featureSetVersion) {
    throw invalid(
      `${metaPath}: featureSetVersion is ${JSON.stringify(meta.featureSetVersion)}, this service computes ${JSON.stringify(expect.featureSetVersion)}`,
      metaPath,
    );
  }
  if (expect.featureColumns !== undefined) {
    const want = expect.featureColumns;
    const got = meta.featureColumns;
    const i = want.findIndex((c, k) => got[k] !== c);
    if (want.length !== got.length || i >= 0) {
      const at = i >= 0 ? i : Math.min(want.length, got.length);
      throw invalid(
        `${metaPath}: featureColumns differ from the expected ${want.length} columns at index ${at} (artifact ${JSON.stringify(got[at] ?? null)}, expected ${JSON.stringify(want[at] ?? null)})`,
        metaPath,
      );
    }
  }

  const mj = parseJson(await src.read(MODEL_FILE), modelPath) as Record<string, unknown> | null;
  if (typeof mj !== 'object' || mj === null || typeof mj.modelTopology !== 'object' || mj.modelTopology === null) {
    throw invalid(`${modelPath}: no modelTopology object`, modelPath);
  }
  const manifest = mj.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) throw invalid(`${modelPath}: weightsManifest must be a non-empty array`, modelPath);
  const specs: io.WeightsManifestEntry[] = [];
  for (const group of manifest as { paths?: unknown; weights?: unknown }[]) {
    if (!Array.isArray(group.paths) || group.paths.length !== 1 || group.paths[0] !== WEIGHTS_FILE) {
      throw invalid(`${modelPath}: weightsManifest paths must be ["${WEIGHTS_FILE}"], got ${JSON.stringify(group.paths)}`, modelPath);
    }
    if (!Array.isArray(group.weights)) throw invalid(`${modelPath}: weightsManifest entry has no weights array`, modelPath);
    specs.push(...(group.weights as io.WeightsManifestEntry[]));
  }
  let expectedBytes = 0;
  for (const s of specs) {
    const bytes = DTYPE_BYTES[s.dtype];
    if (typeof s.name !== 'string' || !Array.isArray(s.shape) || bytes === undefined || s.quantization !== undefined) {
      throw invalid(`${modelPath}: weight spec ${JSON.stringify(s.name)} is not an unquantized float32/int32/bool entry`, modelPath);
    }
    expectedBytes += s.shape.reduce((a, b) => a * b, 1) * bytes;
  }
  const weights = await src.read(WEIGHTS_FILE);
  if (weights.byteLength !== expectedBytes) {
    throw invalid(`${weightsPath}: ${weights.byteLength} bytes, but ${MODEL_FILE} declares ${expectedBytes} bytes of weights`, weightsPath);
  }
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);

  attentionLayerClass(tf); // the custom layer must be registered before the topology is deserialized
  let model: LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: specs, weightData }));
  } catch (err) {
    throw invalid(`${modelPath}: topology or weights do not load (${err instanceof Error ? err.message : String(err)})`, modelPath, err);
  }
  const [T, F] = modelShape(model);
  const outputs = model.outputNames;
  if (T !== meta.T || F !== meta.F || outputs.length !== 1 || outputs[0] !== HEAD_LAYER) {
    model.dispose();
    throw invalid(
      `${modelPath}: model input [T=${String(T)}, F=${String(F)}] and outputs ${JSON.stringify(outputs)} do not match ${META_FILE} (T=${meta.T}, F=${meta.F}, output ${HEAD_LAYER})`,
      modelPath,
    );
  }
  try {
    parseForecastBlock(meta.forecast, headUnits(model) ?? 0, metaPath);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, meta, dir: src.location };
}
