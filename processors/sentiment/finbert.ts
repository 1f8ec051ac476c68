// FinBERT scorer: a BERT sequence classifier run offline through transformers.js (onnxruntime-node)
// from a configured models folder. `<modelsDir>/<modelId>/` must hold config.json (with id2label),
// tokenizer.json, tokenizer_config.json and onnx/model.onnx (dtype 'fp32', the default) or
// onnx/model_quantized.onnx (dtype 'q8'). Nothing is ever fetched: remote models and the file
// cache are switched off, so a missing or bad file gives one ERR_CONFIG_INVALID naming the path
// instead of a download attempt or a hang.
//
// Batching: scoreBatch tokenizes the whole batch with padding (to the longest text in the batch)
// and truncation (to maxLength tokens, default 128: ProsusAI/finbert was fine-tuned on PhraseBank
// sentences, nearly all far shorter, and attention cost grows with the square of the length), runs
// the session ONCE per call, and softmaxes the logits per row. Padding is masked by the model, so a
// text scores the same alone or in a batch. A truncated text keeps its final [SEP] (transformers.js
// would cut it off; Python's tokenizers keeps it, and the model was trained that way).
// Texts are cut to maxLength * 64 characters before tokenizing, so a huge text costs no more than a
// long one; that prefix holds far more than maxLength WordPiece tokens for any real text.
//
// Error code: the brief asked for ERR_CONFIG; core/errors.ts has ERR_CONFIG_INVALID for a bad
// configured path or file, which is what these are, so that is used (no new code added).
//
// transformers.js (with onnxruntime-node, onnxruntime-web and sharp, about 470 MB) is an optional
// dependency: the default runtime image leaves it out and only the -finbert image variant carries
// it (docs/deploy.md). It is imported when a FinBERT model is first loaded, never at start-up, so
// VADER-only services run without it; FinBERT switched on without it is one ERR_CONFIG_INVALID
// naming the setting and how to add the package.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type * as Transformers from '@huggingface/transformers';
import type { PreTrainedModel, PreTrainedTokenizer, Tensor } from '@huggingface/transformers';
import { BitPredictError } from '../../core/errors.js';
import type { FinbertScore } from '../../schemas/types.js';

export type FinbertLabel = 'positive' | 'negative' | 'neutral';

export interface FinbertOptions {
  /** Folder holding `<modelId>/config.json` etc. (transformers.js `env.localModelPath`). */
  modelsDir: string;
  /** Model id, e.g. 'ProsusAI/finbert'; read from `<modelsDir>/<modelId>/`. */
  modelId: string;
  /** 'fp32' reads onnx/model.onnx (default); 'q8' reads onnx/model_quantized.onnx. */
  dtype?: 'fp32' | 'q8';
  /** Tokens per text after truncation, [CLS] and [SEP] included. Default 128. */
  maxLength?: number;
}

export interface FinbertScorer {
  readonly modelId: string;
  /** First 16 hex digits of the sha256 of the ONNX file's bytes. */
  readonly modelVersion: string;
  /** Our label of each logit index, from config.json id2label. */
  readonly labels: readonly FinbertLabel[];
  readonly maxLength: number;
  /** One tokenizer call and one session run for the whole batch; [] for []. */
  scoreBatch(texts: string[]): Promise<FinbertScore[]>;
}

export const FINBERT_DEFAULT_MAX_LENGTH = 128;
const CHARS_PER_TOKEN_CAP = 64;

// transformers.js settings are process-global (env.localModelPath), so loads run one at a time.
let loadQueue: Promise<unknown> = Promise.resolve();

export function loadFinbert(options: FinbertOptions): Promise<FinbertScorer> {
  const next = loadQueue.then(() => load(options));
  loadQueue = next.catch(() => undefined);
  return next;
}

/** The optional package FinBERT runs on. */
export const FINBERT_RUNTIME_PACKAGE = '@huggingface/transformers';
type FinbertRuntime = typeof Transformers;
let runtime: Promise<FinbertRuntime> | undefined;

/**
 * Imports transformers.js (once per process for the real package). A missing package (or a
 * package it needs) is ERR_CONFIG_INVALID naming BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR, the
 * image variant and the npm command that adds it; any other import failure (a broken native
 * binary, say) is ERR_CONFIG_INVALID with that cause. `specifier` is for tests.
 */
export function importFinbertRuntime(specifier: string = FINBERT_RUNTIME_PACKAGE): Promise<FinbertRuntime> {
  if (specifier !== FINBERT_RUNTIME_PACKAGE) return importRuntime(specifier);
  runtime ??= importRuntime(specifier).catch((err: unknown) => {
    runtime = undefined;
    throw err;
  });
  return runtime;
}

async function importRuntime(specifier: string): Promise<FinbertRuntime> {
  try {
    return (await import(specifier)) as FinbertRuntime;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new BitPredictError(
        'ERR_CONFIG_INVALID',
        `FinBERT is on (BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR is set) but its runtime, the optional package ${specifier}, is not installed ` +
          `(${errText(err)}). Use the bitpredict -finbert image (docker build --build-arg FINBERT=1, docs/deploy.md), or from a checkout ` +
          `run \`npm install --include=optional\` (an install made with --omit=optional lacks it); or empty BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR for VADER only.`,
        { cause: err, details: { setting: 'BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR', package: specifier } },
      );
    }
    throw new BitPredictError('ERR_CONFIG_INVALID', `FinBERT runtime ${specifier} could not be loaded: ${errText(err)}`, {
      cause: err,
      details: { setting: 'BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR', package: specifier },
    });
  }
}

function configError(message: string, path: string, cause?: unknown): BitPredictError {
  return new BitPredictError('ERR_CONFIG_INVALID', message, { cause, details: { path } });
}

/** Maps config.json id2label to our labels (case-insensitive); throws naming the file if it cannot. */
export function mapFinbertLabels(id2label: unknown, configPath: string): FinbertLabel[] {
  if (id2label === null || typeof id2label !== 'object' || Array.isArray(id2label)) {
    throw configError(`FinBERT config ${configPath} has no id2label object`, configPath);
  }
  const entries = Object.entries(id2label as Record<string, unknown>);
  const labels: FinbertLabel[] = [];
  for (const [key, value] of entries) {
    const idx = Number(key);
    const name = typeof value === 'string' ? value.trim().toLowerCase() : '';
    if (!Number.isInteger(idx) || idx < 0 || idx >= entries.length) {
      throw configError(`FinBERT config ${configPath}: id2label key "${key}" is not an index 0..${entries.length - 1}`, configPath);
    }
    if (name !== 'positive' && name !== 'negative' && name !== 'neutral') {
      throw configError(`FinBERT config ${configPath}: id2label[${key}] = ${JSON.stringify(value)} is not positive/negative/neutral`, configPath);
    }
    labels[idx] = name;
  }
  if (entries.length !== 3 || new Set(labels).size !== 3) {
    throw configError(`FinBERT config ${configPath}: id2label must name positive, negative and neutral once each, got ${JSON.stringify(id2label)}`, configPath);
  }
  return labels;
}

async function mustExist(path: string, what: string): Promise<void> {
  const s = await stat(path).catch((err: unknown) => {
    throw configError(`FinBERT ${what} not found: ${path}`, path, err);
  });
  if (what === 'model folder' ? !s.isDirectory() : !s.isFile())
    throw configError(`FinBERT ${what} is not a ${what === 'model folder' ? 'folder' : 'file'}: ${path}`, path);
}

async function load(options: FinbertOptions): Promise<FinbertScorer> {
  const { modelsDir, modelId } = options;
  const dtype = options.dtype ?? 'fp32';
  const maxLength = options.maxLength ?? FINBERT_DEFAULT_MAX_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > 512) {
    throw configError(`FinBERT maxLength must be an integer in 2..512, got ${String(maxLength)}`, modelsDir);
  }
  if (dtype !== 'fp32' && dtype !== 'q8') throw configError(`FinBERT dtype must be 'fp32' or 'q8', got ${String(dtype)}`, modelsDir);
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(modelId) || modelId.includes('..')) {
    throw configError(`FinBERT modelId must look like "org/name", got ${JSON.stringify(modelId)}`, modelsDir);
  }
  const root = join(modelsDir, ...modelId.split('/'));
  const configPath = join(root, 'config.json');
  const onnxPath = join(root, 'onnx', dtype === 'q8' ? 'model_quantized.onnx' : 'model.onnx');
  await mustExist(root, 'model folder');
  for (const f of [configPath, join(root, 'tokenizer.json'), join(root, 'tokenizer_config.json'), onnxPath]) await mustExist(f, 'file');

  let config: { id2label?: unknown };
  try {
    config = JSON.parse(await readFile(configPath, 'utf8')) as { id2label?: unknown };
  } catch (err) {
    throw configError(`FinBERT config ${configPath} is not valid JSON`, configPath, err);
  }
  const labels = mapFinbertLabels(config.id2label, configPath);
  const { AutoModelForSequenceClassification, AutoTokenizer, Tensor, env } = await importFinbertRuntime();
  const modelVersion = createHash('sha256')
    .update(await readFile(onnxPath))
    .digest('hex')
    .slice(0, 16);

  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = modelsDir;
  env.useFSCache = false;
  env.useBrowserCache = false;
  // cache_dir is unused with the FS cache off, but it keys transformers.js's in-process memo of
  // configs, so two models folders with the same model id do not share a config.
  const pretrained = { local_files_only: true, cache_dir: modelsDir } as const;
  let tokenizer: PreTrainedTokenizer;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(modelId, pretrained);
  } catch (err) {
    throw configError(`FinBERT tokenizer in ${root} could not be loaded: ${errText(err)}`, root, err);
  }
  let model: PreTrainedModel;
  try {
    model = await AutoModelForSequenceClassification.from_pretrained(modelId, { ...pretrained, dtype, device: 'cpu' });
  } catch (err) {
    throw configError(`FinBERT model ${onnxPath} could not be loaded: ${errText(err)}`, onnxPath, err);
  }
  const sepId = tokenizer.sep_token_id;
  const padId = tokenizer.pad_token_id ?? 0;
  const charCap = maxLength * CHARS_PER_TOKEN_CAP;

  async function scoreBatch(texts: string[]): Promise<FinbertScore[]> {
    if (texts.length === 0) return [];
    const input = texts.map((t) => (typeof t === 'string' ? t : String(t)).slice(0, charCap));
    const enc = tokenizer(input, { padding: true, truncation: true, max_length: maxLength, return_tensor: false }) as unknown as {
      input_ids: number[][];
      attention_mask: number[][];
      token_type_ids?: number[][];
    };
    const rows = enc.input_ids.length;
    const seq = enc.input_ids[0]?.length ?? 0;
    const ids = new BigInt64Array(rows * seq);
    const mask = new BigInt64Array(rows * seq);
    const types = new BigInt64Array(rows * seq);
    for (let r = 0; r < rows; r++) {
      const rowIds = enc.input_ids[r]!;
      const rowMask = enc.attention_mask[r]!;
      // A row cut at maxLength lost its [SEP]; put it back as the last token.
      if (sepId !== undefined && sepId !== null && rowIds.length === maxLength && rowMask[maxLength - 1] === 1 && rowIds[maxLength - 1] !== sepId) {
        rowIds[maxLength - 1] = sepId;
      }
      for (let c = 0; c < seq; c++) {
        ids[r * seq + c] = BigInt(rowIds[c] ?? padId);
        mask[r * seq + c] = BigInt(rowMask[c] ?? 0);
        types[r * seq + c] = BigInt(enc.token_type_ids?.[r]?.[c] ?? 0);
      }
    }
    const out = (await model({
      input_ids: new Tensor('int64', ids, [rows, seq]),
      attention_mask: new Tensor('int64', mask, [rows, seq]),
      token_type_ids: new Tensor('int64', types, [rows, seq]),
    })) as { logits: Tensor };
    const logits = out.logits.data as Float32Array;
    const width = labels.length;
    if (out.logits.dims[0] !== rows || out.logits.dims[1] !== width) {
      throw new BitPredictError(
        'ERR_CONFIG_INVALID',
        `FinBERT model ${onnxPath} gave logits of shape [${out.logits.dims.join(', ')}], expected [${rows}, ${width}]`,
        { details: { path: onnxPath } },
      );
    }
    const scores: FinbertScore[] = [];
    for (let r = 0; r < rows; r++) {
      const p = softmax(logits.subarray(r * width, r * width + width));
      const s: FinbertScore = { positive: 0, negative: 0, neutral: 0, modelId, modelVersion };
      labels.forEach((label, i) => {
        s[label] = p[i]!;
      });
      scores.push(s);
    }
    return scores;
  }

  return { modelId, modelVersion, labels, maxLength, scoreBatch };
}

/** Numerically stable softmax in float64. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
