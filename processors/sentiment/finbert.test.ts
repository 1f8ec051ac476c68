import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BitPredictError } from '../../core/errors.js';
import { FINBERT_RUNTIME_PACKAGE, importFinbertRuntime, loadFinbert, softmax, type FinbertScorer } from './finbert.js';
import { writeTinyBert } from './testing/tiny-bert.js';

const MODEL_ID = 'test/tiny-finbert';
let dir: string;
let scorer: FinbertScorer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bp-finbert-'));
  await writeTinyBert(join(dir, 'a'), MODEL_ID, { quantizedCopy: true });
  scorer = await loadFinbert({ modelsDir: join(dir, 'a'), modelId: MODEL_ID });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectConfigError(p: Promise<unknown>, pathPart: string | RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BitPredictError);
  expect((err as BitPredictError).code).toBe('ERR_CONFIG_INVALID');
  expect((err as BitPredictError).message).toMatch(pathPart);
}

describe('loadFinbert on the generated tiny BERT', () => {
  it('exposes model id, a content-hash version and the mapped labels', () => {
    expect(scorer.modelId).toBe(MODEL_ID);
    expect(scorer.modelVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(scorer.labels).toEqual(['positive', 'negative', 'neutral']);
    expect(scorer.maxLength).toBe(128);
  });

  it('scores a mixed-length batch exactly as one-by-one (padding is masked); probabilities sum to 1', async () => {
    const texts = [
      'Profit surged',
      'The company said that bitcoin trading volumes in the third quarter were about the same as a year ago',
      'fraud',
      '',
      'Shares fell after the lawsuit, but the company reported record gains in its new business',
    ];
    const batch = await scorer.scoreBatch(texts);
    expect(batch).toHaveLength(texts.length);
    for (let i = 0; i < texts.length; i++) {
      const [alone] = await scorer.scoreBatch([texts[i]!]);
      const b = batch[i]!;
      expect(b.positive).toBeCloseTo(alone!.positive, 6);
      expect(b.negative).toBeCloseTo(alone!.negative, 6);
      expect(b.neutral).toBeCloseTo(alone!.neutral, 6);
      expect(b.positive + b.negative + b.neutral).toBeCloseTo(1, 9);
      expect(b.modelId).toBe(MODEL_ID);
      expect(b.modelVersion).toBe(scorer.modelVersion);
    }
  });

  it('moves probabilities in the designed directions', async () => {
    const [pos, neg, neutral] = await scorer.scoreBatch([
      'Company profit and gains surge',
      'Bitcoin crash: fraud and huge losses',
      'The company said the report was about the market',
    ]);
    expect(pos!.positive).toBeGreaterThan(Math.max(pos!.negative, pos!.neutral));
    expect(neg!.negative).toBeGreaterThan(Math.max(neg!.positive, neg!.neutral));
    expect(neutral!.neutral).toBeGreaterThan(Math.max(neutral!.positive, neutral!.negative));
  });

  it('returns [] for an empty batch', async () => {
    expect(await scorer.scoreBatch([])).toEqual([]);
  });

  it('truncates a very long text to maxLength tokens: what lies beyond does not matter', async () => {
    const short = await loadFinbert({ modelsDir: join(dir, 'a'), modelId: MODEL_ID, maxLength: 16 });
    const head = 'profit '.repeat(40);
    const [a, b, c] = await short.scoreBatch([head, head + 'crash fraud loss '.repeat(5000), 'profit '.repeat(3) + 'crash '.repeat(40)]);
    expect(b!.positive).toBeCloseTo(a!.positive, 9);
    expect(b!.negative).toBeCloseTo(a!.negative, 9);
    // Within the window, the negative words do count.
    expect(c!.negative).toBeGreaterThan(c!.positive);
  });

  it('loads the q8 file name for dtype q8', async () => {
    const q8 = await loadFinbert({ modelsDir: join(dir, 'a'), modelId: MODEL_ID, dtype: 'q8' });
    const [s] = await q8.scoreBatch(['profit']);
    expect(s!.positive).toBeGreaterThan(0.5);
  });

  it('changes modelVersion (and scores) when the weights change', async () => {
    await writeTinyBert(join(dir, 'b'), MODEL_ID, { seed: 2 });
    const other = await loadFinbert({ modelsDir: join(dir, 'b'), modelId: MODEL_ID });
    expect(other.modelVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(other.modelVersion).not.toBe(scorer.modelVersion);
    const text = 'The company said the market was open';
    const [x] = await scorer.scoreBatch([text]);
    const [y] = await other.scoreBatch([text]);
    expect(y!.neutral).not.toBeCloseTo(x!.neutral, 6);
    // Same seed, same bytes, same version.
    await writeTinyBert(join(dir, 'c'), MODEL_ID);
    expect((await loadFinbert({ modelsDir: join(dir, 'c'), modelId: MODEL_ID })).modelVersion).toBe(scorer.modelVersion);
  });
});

describe('loadFinbert refuses bad model folders with ERR_CONFIG_INVALID naming the path', () => {
  it('missing models folder or model id', async () => {
    await expectConfigError(loadFinbert({ modelsDir: join(dir, 'nope'), modelId: MODEL_ID }), join(dir, 'nope'));
    await expectConfigError(loadFinbert({ modelsDir: join(dir, 'a'), modelId: 'test/other' }), join(dir, 'a', 'test', 'other'));
    await expectConfigError(loadFinbert({ modelsDir: join(dir, 'a'), modelId: '../escape' }), /modelId/);
  });

  it('missing onnx file for the dtype', async () => {
    await writeTinyBert(join(dir, 'noq8'), MODEL_ID);
    await expectConfigError(loadFinbert({ modelsDir: join(dir, 'noq8'), modelId: MODEL_ID, dtype: 'q8' }), 'model_quantized.onnx');
  });

  it('corrupt onnx', async () => {
    await writeTinyBert(join(dir, 'corrupt'), MODEL_ID);
    const onnx = join(dir, 'corrupt', 'test', 'tiny-finbert', 'onnx', 'model.onnx');
    await writeFile(onnx, 'this is not a protobuf');
    await expectConfigError(loadFinbert({ modelsDir: join(dir, 'corrupt'), modelId: MODEL_ID }), onnx);
  });

  it('labels that do not map to positive/negative/neutral, and config.json that is not JSON', async () => {
    await writeTinyBert(join(dir, 'labels'), MODEL_ID, { id2label: { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' } });
    const config = join(dir, 'labels', 'test', 'tiny-finbert', 'config.json');
    await expectConfigError(
      loadFinbert({ modelsDir: join(dir, 'labels'), modelId: MODEL_ID }),
      new RegExp(`${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*LABEL_0`),
    );
    await writeTinyBert(join(dir, 'dup'), MODEL_ID, { id2label: { 0: 'Positive', 1: 'POSITIVE', 2: 'neutral' } });
    await expectConfigError(loadFinbert({ modelsDir: join(dir, 'dup'), modelId: MODEL_ID }), /once each/);
    await writeFile(config, '{ not json');
    await expectConfigError(loadFinbert({ modelsDir: join(dir, 'labels'), modelId: MODEL_ID }), /not valid JSON/);
  });

  it('accepts labels in another order and case, mapping columns by id2label', async () => {
    await writeTinyBert(join(dir, 'order'), MODEL_ID, { id2label: { 0: 'Neutral', 1: 'NEGATIVE', 2: 'positive' } });
    const s = await loadFinbert({ modelsDir: join(dir, 'order'), modelId: MODEL_ID });
    expect(s.labels).toEqual(['neutral', 'negative', 'positive']);
    // Logit 0 (positive-word column in the tiny weights) is now called neutral.
    const [r] = await s.scoreBatch(['profit surge gain']);
    expect(r!.neutral).toBeGreaterThan(r!.positive);
  });

  it('rejects a bad maxLength', async () => {
    await expectConfigError(loadFinbert({ modelsDir: join(dir, 'a'), modelId: MODEL_ID, maxLength: 1 }), /maxLength/);
  });
});

describe('softmax', () => {
  it('is stable for large logits and sums to 1', () => {
    const p = softmax([1000, 1000, 999]);
    expect(p[0]).toBeCloseTo(p[1]!, 12);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(softmax([0, 0, 0])).toEqual([1 / 3, 1 / 3, 1 / 3]);
  });
});

describe('importFinbertRuntime (transformers.js is an optional dependency)', () => {
  it('loads the installed package once per process', async () => {
    const a = await importFinbertRuntime();
    expect(typeof a.AutoTokenizer.from_pretrained).toBe('function');
    expect(await importFinbertRuntime(FINBERT_RUNTIME_PACKAGE)).toBe(a);
  });

  it('a package that is not installed: ERR_CONFIG_INVALID naming the setting, the image variant and the npm command', async () => {
    const err = await importFinbertRuntime('@bitpredict-absent/finbert-runtime').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BitPredictError);
    const e = err as BitPredictError;
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain('BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR');
    expect(e.message).toContain('@bitpredict-absent/finbert-runtime');
    expect(e.message).toContain('--build-arg FINBERT=1');
    expect(e.message).toContain('npm install --include=optional');
    expect((e.cause as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');
  });

  it('a package that fails while loading (a broken native binary, say): ERR_CONFIG_INVALID with that cause', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bp-finbert-runtime-'));
    try {
      const file = join(dir, 'broken.mjs');
      await writeFile(file, "throw new Error('libonnxruntime.so.1: cannot open shared object file');\n");
      const err = await importFinbertRuntime(pathToFileURL(file).href).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BitPredictError);
      expect((err as BitPredictError).code).toBe('ERR_CONFIG_INVALID');
      expect((err as BitPredictError).message).toMatch(/FinBERT runtime .*broken\.mjs could not be loaded: libonnxruntime\.so\.1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
