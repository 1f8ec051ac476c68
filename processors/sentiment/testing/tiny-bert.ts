// Writes a tiny BERT-shaped sequence classifier that the real FinBERT loader accepts, for tests and
// the bench (no FinBERT weights can be fetched on these machines). Layout, as transformers.js reads
// it offline from `<dir>/<modelId>/`: config.json, tokenizer.json (a real WordPiece tokenizer with
// a small lower-case vocabulary), tokenizer_config.json and onnx/model.onnx.
//
// The ONNX graph (opset 13) takes the BERT inputs input_ids, attention_mask, token_type_ids (int64
// [batch, seq]; token_type_ids is accepted and unused) and gives logits (float [batch, 3]):
//   h = Gather(embeddings, input_ids)                      [B, S, H]
//   m = Unsqueeze(Cast(attention_mask -> float), axis 2)   [B, S, 1]
//   mean = ReduceSum(h * m, axis 1) / max(ReduceSum(m, axis 1), eps)   (masked mean over tokens)
//   logits = MatMul(mean, W) + b
// Weights are deterministic: hidden dim 0 carries "positive" words, dim 1 "negative" words, dims
// 2..3 small seeded noise. Labels follow ProsusAI/finbert: 0 positive, 1 negative, 2 neutral, so
// "profit"/"surge"/"gain" push towards positive, "loss"/"crash"/"fraud" towards negative, and
// text with neither leans neutral (bias). [PAD] has a large embedding on purpose: if padding were
// not masked, a padded row would score differently from the same text alone.
// The ONNX protobuf is written by a minimal encoder below (field numbers from onnx/onnx.proto).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const TINY_HIDDEN = 4;
export const TINY_LABELS = { 0: 'positive', 1: 'negative', 2: 'neutral' } as const;
export const TINY_POSITIVE_WORDS = [
  'profit',
  'profits',
  'surge',
  'surged',
  'gain',
  'gains',
  'growth',
  'rally',
  'beat',
  'record',
  'rise',
  'rises',
  'rose',
  'up',
  'strong',
  'bullish',
  'increase',
  'increased',
  'higher',
  'upgrade',
];
export const TINY_NEGATIVE_WORDS = [
  'loss',
  'losses',
  'crash',
  'crashed',
  'fraud',
  'decline',
  'declined',
  'drop',
  'fell',
  'fall',
  'down',
  'weak',
  'bearish',
  'lawsuit',
  'hack',
  'bankrupt',
  'bankruptcy',
  'lower',
  'cut',
  'downgrade',
];
const NEUTRAL_WORDS = [
  'the',
  'a',
  'an',
  'of',
  'to',
  'in',
  'and',
  'or',
  'for',
  'on',
  'at',
  'by',
  'with',
  'from',
  'as',
  'is',
  'was',
  'are',
  'were',
  'be',
  'been',
  'has',
  'have',
  'had',
  'it',
  'its',
  'this',
  'that',
  'these',
  'those',
  'will',
  'would',
  'said',
  'says',
  'company',
  'companies',
  'bitcoin',
  'btc',
  'crypto',
  'market',
  'markets',
  'price',
  'prices',
  'stock',
  'stocks',
  'shares',
  'share',
  'year',
  'quarter',
  'sales',
  'net',
  'operating',
  'revenue',
  'eur',
  'usd',
  'mn',
  'million',
  'billion',
  'percent',
  'today',
  'week',
  'new',
  'report',
  'reported',
  'announced',
  'group',
  'bank',
  'trading',
  'investors',
  'exchange',
  'period',
  'compared',
  'than',
  'per',
  'cent',
  'first',
  'second',
  'third',
  'fourth',
  'half',
  'also',
  'about',
  'after',
  'before',
  'over',
  'under',
  'into',
  'not',
  'no',
  'but',
  'which',
  'who',
  'their',
  'they',
  'we',
  'our',
  'he',
  'she',
  'his',
  'her',
  'business',
  'products',
  'services',
  'finland',
  'finnish',
  'helsinki',
  'plan',
  'plans',
  'deal',
  'agreement',
  'contract',
  'order',
  'orders',
  'unit',
  'board',
  'ceo',
  'chief',
  'executive',
  'officer',
  'director',
  'time',
  'day',
  'month',
  'months',
  'years',
  'total',
  'value',
  'based',
  'production',
  'sector',
  'industry',
  'global',
  'fund',
  'funds',
  'tweet',
  'news',
  'bitcoins',
  'ether',
  'ethereum',
  'dollar',
  'dollars',
  'euro',
  'euros',
].filter((w) => !TINY_POSITIVE_WORDS.includes(w) && !TINY_NEGATIVE_WORDS.includes(w));
const LETTERS = 'abcdefghijklmnopqrstuvwxyz0123456789';
const PUNCT = ['.', ',', '!', '?', '$', '%', '-', "'", '"', ':', ';', '(', ')', '@', '#', '&', '/'];
const SUFFIXES = ['##s', '##ed', '##ing', '##er', '##ly', '##ion', '##al'];
const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

export interface TinyBertOptions {
  /** Seeds the noise dimensions; a different seed gives different weights (and ONNX bytes). Default 1. */
  seed?: number;
  /** Overrides config.json id2label (to test label mapping). Default: ProsusAI/finbert's. */
  id2label?: Record<string, string>;
  /** Also write onnx/model_quantized.onnx (same fp32 graph) so dtype 'q8' finds a file. Default false. */
  quantizedCopy?: boolean;
}

/** The tiny vocabulary, id = index: specials, whole words, single characters and `##` pieces. */
export function tinyVocab(): string[] {
  const vocab = [...SPECIAL, ...TINY_POSITIVE_WORDS, ...TINY_NEGATIVE_WORDS, ...NEUTRAL_WORDS, ...PUNCT];
  for (const ch of LETTERS) vocab.push(ch);
  for (const ch of LETTERS) vocab.push(`##${ch}`);
  vocab.push(...SUFFIXES);
  return [...new Set(vocab)];
}

export async function writeTinyBert(dir: string, modelId: string, options: TinyBertOptions = {}): Promise<void> {
  const root = join(dir, ...modelId.split('/'));
  await mkdir(join(root, 'onnx'), { recursive: true });
  const vocab = tinyVocab();
  const id2label = options.id2label ?? { ...TINY_LABELS };
  const label2id = Object.fromEntries(Object.entries(id2label).map(([id, label]) => [label, Number(id)]));
  const config = {
    _name_or_path: modelId,
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    hidden_size: TINY_HIDDEN,
    num_hidden_layers: 0,
    num_attention_heads: 1,
    intermediate_size: TINY_HIDDEN,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    vocab_size: vocab.length,
    pad_token_id: 0,
    id2label,
    label2id,
    problem_type: 'single_label_classification',
  };
  await writeFile(join(root, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(join(root, 'tokenizer.json'), JSON.stringify(tokenizerJson(vocab)));
  await writeFile(
    join(root, 'tokenizer_config.json'),
    JSON.stringify(
      {
        tokenizer_class: 'BertTokenizer',
        do_lower_case: true,
        model_max_length: 512,
        pad_token: '[PAD]',
        unk_token: '[UNK]',
        cls_token: '[CLS]',
        sep_token: '[SEP]',
        mask_token: '[MASK]',
        clean_up_tokenization_spaces: true,
      },
      null,
      2,
    ),
  );
  await writeFile(
    join(root, 'special_tokens_map.json'),
    JSON.stringify({
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      mask_token: '[MASK]',
    }),
  );
  const onnx = tinyOnnx(vocab, options.seed ?? 1);
  await writeFile(join(root, 'onnx', 'model.onnx'), onnx);
  if (options.quantizedCopy) await writeFile(join(root, 'onnx', 'model_quantized.onnx'), onnx);
}

function tokenizerJson(vocab: string[]): Record<string, unknown> {
  const ids = Object.fromEntries(vocab.map((t, i) => [t, i]));
  const special = (content: string): Record<string, unknown> => ({
    id: ids[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [ids['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [ids['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
  };
}

// ---- weights -------------------------------------------------------------------------------

function tinyOnnx(vocab: string[], seed: number): Uint8Array {
  let s = seed >>> 0 || 1;
  const rnd = (): number => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32 - 0.5; // [-0.5, 0.5)
  };
  const H = TINY_HIDDEN;
  const emb = new Float32Array(vocab.length * H);
  vocab.forEach((tok, i) => {
    const row = emb.subarray(i * H, i * H + H);
    for (let d = 2; d < H; d++) row[d] = rnd() * 0.2;
    if (TINY_POSITIVE_WORDS.includes(tok)) row[0] = 3;
    if (TINY_NEGATIVE_WORDS.includes(tok)) row[1] = 3;
    if (tok === '[PAD]') row.set([5, -5, 1, -1]);
  });
  // W [H, 3]: columns positive, negative, neutral (ids 0, 1, 2).
  const w = new Float32Array([2, -1, 0, -1, 2, 0, rnd(), rnd(), rnd(), rnd(), rnd(), rnd()]);
  const bias = new Float32Array([0, 0, 0.5]);

  const graph = [
    ...nodes([
      node('Gather', ['embeddings', 'input_ids'], ['h'], [attrInt('axis', 0)]),
      node('Cast', ['attention_mask'], ['mask_f'], [attrInt('to', FLOAT)]),
      node('Unsqueeze', ['mask_f', 'axes_2'], ['mask3']),
      node('Mul', ['h', 'mask3'], ['h_masked']),
      node('ReduceSum', ['h_masked', 'axes_1'], ['h_sum'], [attrInt('keepdims', 0)]),
      node('ReduceSum', ['mask3', 'axes_1'], ['count'], [attrInt('keepdims', 0)]),
      node('Max', ['count', 'eps'], ['count_safe']),
      node('Div', ['h_sum', 'count_safe'], ['pooled']),
      node('MatMul', ['pooled', 'classifier_w'], ['z']),
      node('Add', ['z', 'classifier_b'], ['logits']),
    ]),
    ...fieldString(2, 'tiny_bert'),
    ...fieldBytes(5, tensorFloat('embeddings', [vocab.length, H], emb)),
    ...fieldBytes(5, tensorFloat('classifier_w', [H, 3], w)),
    ...fieldBytes(5, tensorFloat('classifier_b', [3], bias)),
    ...fieldBytes(5, tensorFloat('eps', [1], new Float32Array([1e-6]))),
    ...fieldBytes(5, tensorInt64('axes_1', [1], [1])),
    ...fieldBytes(5, tensorInt64('axes_2', [1], [2])),
    ...fieldBytes(11, valueInfo('input_ids', INT64, ['batch', 'sequence'])),
    ...fieldBytes(11, valueInfo('attention_mask', INT64, ['batch', 'sequence'])),
    ...fieldBytes(11, valueInfo('token_type_ids', INT64, ['batch', 'sequence'])),
    ...fieldBytes(12, valueInfo('logits', FLOAT, ['batch', 3])),
  ];
  // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 (domain 1, version 2).
  return new Uint8Array([
    ...fieldVarint(1, 8),
    ...fieldString(2, 'bitpredict-tiny-bert'),
    ...fieldBytes(7, graph),
    ...fieldBytes(8, [...fieldString(1, ''), ...fieldVarint(2, 13)]),
  ]);
}

// ---- minimal protobuf / ONNX encoder ------------------------------------------------------

const FLOAT = 1;
const INT64 = 7;
const ATTR_INT = 2;

function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}
const fieldVarint = (field: number, value: number | bigint): number[] => [...varint(field << 3), ...varint(value)];
const fieldBytes = (field: number, bytes: ArrayLike<number>): number[] => [...varint((field << 3) | 2), ...varint(bytes.length), ...Array.from(bytes)];
const fieldString = (field: number, s: string): number[] => fieldBytes(field, new TextEncoder().encode(s));

function nodes(list: number[][]): number[] {
  return list.flatMap((n) => fieldBytes(1, n)); // GraphProto.node = 1
}

/** NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5. */
function node(op: string, inputs: string[], outputs: string[], attrs: number[][] = []): number[] {
  return [
    ...inputs.flatMap((i) => fieldString(1, i)),
    ...outputs.flatMap((o) => fieldString(2, o)),
    ...fieldString(3, `${op}_${outputs[0] ?? ''}`),
    ...fieldString(4, op),
    ...attrs.flatMap((a) => fieldBytes(5, a)),
  ];
}

/** AttributeProto: name = 1, i = 3, type = 20. */
function attrInt(name: string, value: number): number[] {
  return [...fieldString(1, name), ...fieldVarint(3, value), ...fieldVarint(20, ATTR_INT)];
}

/** TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian). */
function tensorFloat(name: string, dims: number[], data: Float32Array): number[] {
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return [...dims.flatMap((d) => fieldVarint(1, d)), ...fieldVarint(2, FLOAT), ...fieldString(8, name), ...fieldBytes(9, raw)];
}

function tensorInt64(name: string, dims: number[], data: number[]): number[] {
  const raw = new Uint8Array(data.length * 8);
  const view = new DataView(raw.buffer);
  data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return [...dims.flatMap((d) => fieldVarint(1, d)), ...fieldVarint(2, INT64), ...fieldString(8, name), ...fieldBytes(9, raw)];
}

/** ValueInfoProto{name = 1, type = 2: TypeProto{tensor_type = 1: {elem_type = 1, shape = 2: {dim = 1: {dim_value = 1 | dim_param = 2}}}}}. */
function valueInfo(name: string, elemType: number, dims: (string | number)[]): number[] {
  const shape = dims.flatMap((d) => fieldBytes(1, typeof d === 'number' ? fieldVarint(1, d) : fieldString(2, d)));
  const tensorType = [...fieldVarint(1, elemType), ...fieldBytes(2, shape)];
  return [...fieldString(1, name), ...fieldBytes(2, fieldBytes(1, tensorType))];
}
