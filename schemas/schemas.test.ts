import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../core/errors.js';
import { generateTypes } from './codegen.js';
import { allSchemas, LOGICAL_TOPICS, loadSchema, subjectFor, topicName, TOPICS } from './index.js';
import type { LogicalTopic, TopicValueMap } from './index.js';

const AVRO_DIR = fileURLToPath(new URL('./avro/', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const ARCHITECTURE = `${REPO_ROOT}../shared/ARCHITECTURE.md`;

type Obj = Record<string, unknown>;

const T0 = Date.UTC(2024, 0, 1, 10);
const HOUR = 3_600_000;

const SAMPLES: { [K in LogicalTopic]: TopicValueMap[K] } = {
  candles: {
    symbol: 'BTCUSDT',
    interval: '1h',
    exchange: 'binance',
    openTime: T0,
    closeTime: T0 + HOUR,
    open: 42_000.5,
    high: 42_500,
    low: 41_900.25,
    close: 42_100,
    volume: 1234.5678,
    quoteVolume: 51_900_000.12,
    tradeCount: 98_765,
    source: 'replay:BTCUSDT_1h_merged.csv',
    ingestedAt: T0 + HOUR + 42,
  },
  trades: {
    exchange: 'binance',
    symbol: 'BTCUSDT',
    tradeId: '3301234567',
    price: 42_010.01,
    quantity: 0.0042,
    side: 'buy',
    eventTime: T0 + 1234,
    ingestedAt: T0 + 1300,
  },
  textRaw: {
    id: 'a1b2c3',
    source: 'rss:coindesk',
    sourceId: 'https://example.org/news/1',
    kind: 'news',
    publishedAt: T0 - 5 * 60_000,
    title: 'Bitcoin climbs',
    text: 'Bitcoin climbed above $42k — ünïcødé survives.',
    url: 'https://example.org/news/1',
    author: null,
    ingestedAt: T0,
  },
  textScored: {
    id: 'a1b2c3',
    source: 'rss:coindesk',
    kind: 'news',
    publishedAt: T0 - 5 * 60_000,
    vader: { compound: 0.6249, pos: 0.4, neu: 0.6, neg: 0 },
    finbert: { positive: 0.8, negative: 0.05, neutral: 0.15, modelId: 'ProsusAI/finbert', modelVersion: '9f2c4e1ab37d0c55' },
    vaderVersion: '3.3.2',
    scoredAt: T0 + 10,
  },
  features: {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime: T0 + HOUR,
    openTime: T0,
    featureSetVersion: 'fs-2',
    close: 42_100,
    volume: 1234.5678,
    gapBefore: false,
    return1: 0.0024,
    logReturn1: Math.log1p(0.0024),
    sma10: 41_950,
    sma20: null,
    ema12: 41_990.1,
    ema26: null,
    rsi14: 55.5,
    return4: 0.011,
    logReturn4: Math.log1p(0.011),
    return24: null,
    logReturn24: null,
    sma50: null,
    ema50: null,
    macd: 12.5,
    macdSignal: null,
    macdHist: null,
    bbPercentB: 0.62,
    bbWidth: 0.031,
    atr14: 310.2,
    realizedVol24: null,
    volumeZ20: -0.4,
    vwap24: null,
    sentimentWindowMs: 4 * HOUR,
    textCount: 3,
    vaderMean: 0.21,
    vaderStd: 0.3,
    vaderPosShare: 2 / 3,
    vaderNegShare: 0,
    finbertCount: 1,
    finbertMean: 0.75,
    textWatermark: T0 + HOUR - 1000,
    candleIngestedAt: T0 + HOUR + 42,
    computedAt: T0 + HOUR + 50,
  },
  predictions: {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime: T0 + HOUR,
    targetTime: T0 + 2 * HOUR,
    horizonSteps: 1,
    predictedLogReturn: -0.0012,
    predictedPrice: 42_100 * Math.exp(-0.0012),
    probUp: 0.47,
    modelName: 'lstm-attn',
    modelVersion: '2024-01-01T00-00-00Z',
    isBaseline: false,
    featureSetVersion: 'fs-1',
    candleIngestedAt: T0 + HOUR + 42,
    featuresComputedAt: T0 + HOUR + 50,
    predictedAt: T0 + HOUR + 60,
    quantileLevels: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
    horizons: [
      {
        horizonSteps: 1,
        targetTime: T0 + 2 * HOUR,
        mean: -0.0012,
        scale: 0.0041,
        quantiles: [-0.0093, -0.0068, -0.0035, -0.0011, 0.0013, 0.0044, 0.0069],
        probUp: 0.47,
        predictedPrice: 42_100 * Math.exp(-0.0011),
      },
      {
        horizonSteps: 24,
        targetTime: T0 + 25 * HOUR,
        mean: 0,
        scale: 0.019,
        quantiles: [-0.041, -0.03, -0.014, 0, 0.014, 0.03, 0.041],
        probUp: 0.5,
        predictedPrice: 42_100,
      },
    ],
  },
  scores: {
    symbol: 'BTCUSDT',
    interval: '1h',
    modelName: 'lstm-attn',
    modelVersion: '2024-01-01T00-00-00Z',
    isBaseline: false,
    horizonSteps: 1,
    windowMs: 7 * 24 * HOUR,
    eventTime: T0 + 2 * HOUR,
    samples: 168,
    missing: 2,
    pinballLoss: 0.0011,
    scaleLoss: -8.9,
    meanSquaredError: 2.1e-5,
    brierScore: 0.249,
    coverage: [
      { level: 0.5, coverage: 0.49, meanWidth: 0.004 },
      { level: 0.8, coverage: 0.78, meanWidth: 0.009 },
      { level: 0.9, coverage: 0.91, meanWidth: 0.012 },
    ],
    skillVsPersistence: 0.06,
    skillVsBestBaseline: -0.01,
    bestBaseline: 'har-rv',
    computedAt: T0 + 2 * HOUR + 5,
  },
  models: {
    name: 'lstm-attn',
    version: '2024-01-01T00-00-00Z',
    artifactUri: 'file:///models/lstm-attn/2024-01-01T00-00-00Z',
    featureSetVersion: 'fs-1',
    trainedFrom: Date.UTC(2018, 0, 1),
    trainedTo: Date.UTC(2023, 0, 1),
    metrics: { mae: 0.0071, rmse: 0.0102, directionalAccuracy: 0.51 },
    backend: 'wasm',
    codeVersion: '0.1.0',
    createdAt: T0,
    expiresAt: T0 + 30 * 24 * HOUR,
  },
  dlq: {
    sourceKind: 'topic',
    source: 'market.candles',
    partition: 2,
    // avsc's largest long without precision loss (2^53 - 2).
    offset: 9_007_199_254_740_990,
    key: Buffer.from('BTCUSDT:1h'),
    value: Buffer.from([0, 0, 0, 0, 1, 0xff, 0xfe]),
    headers: [
      { key: 'traceparent', value: Buffer.from('00-abc-def-01') },
      { key: 'empty', value: null },
    ],
    errorCode: 'ERR_SERDE_DECODE',
    errorMessage: 'truncated buffer',
    attempts: 1,
    consumerGroup: 'bitpredict-features',
    failedAt: T0 + 5,
  },
};

function typeOf(logical: LogicalTopic): avsc.Type {
  return avsc.Type.forSchema(loadSchema(logical) as avsc.Schema);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Every record schema (top-level and nested) with the path that reaches it. */
function records(schema: unknown, path: string, out: { path: string; record: Obj }[] = []): { path: string; record: Obj }[] {
  if (Array.isArray(schema)) schema.forEach((b, i) => records(b, `${path}[${i}]`, out));
  else if (schema !== null && typeof schema === 'object') {
    const s = schema as Obj;
    if (s.type === 'record') {
      out.push({ path, record: s });
      for (const f of s.fields as Obj[]) records(f.type, `${path}.${String(f.name)}`, out);
    } else if (s.type === 'array') records(s.items, `${path}[]`, out);
    else if (s.type === 'map') records(s.values, `${path}{}`, out);
  }
  return out;
}

function isNullable(type: unknown): boolean {
  return Array.isArray(type) && type.includes('null');
}

/** A copy of the schema as it would have been before the defaulted fields were added. */
function withoutDefaultedFields(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutDefaultedFields);
  if (schema === null || typeof schema !== 'object') return schema;
  const s = schema as Obj;
  if (s.type === 'record') {
    const fields = (s.fields as Obj[]).filter((f) => !('default' in f)).map((f) => ({ ...f, type: withoutDefaultedFields(f.type) }));
    return { ...s, fields };
  }
  if (s.type === 'array') return { ...s, items: withoutDefaultedFields(s.items) };
  if (s.type === 'map') return { ...s, values: withoutDefaultedFields(s.values) };
  return s;
}

function withoutKeys(value: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) if (!keys.includes(k)) out[k] = v;
  return out;
}

describe('schema files', () => {
  it('has exactly one .avsc file per logical topic', () => {
    const files = readdirSync(AVRO_DIR)
      .filter((f) => f.endsWith('.avsc'))
      .sort();
    const referenced = LOGICAL_TOPICS.map((t) => TOPICS[t].schemaFile).sort();
    expect(files).toEqual(referenced);
  });

  it.each(LOGICAL_TOPICS)('%s: parses with avsc and names the declared record', (logical) => {
    const type = typeOf(logical);
    expect(type.typeName).toBe('record');
    expect((type as avsc.Type & { name?: string }).name).toBe(TOPICS[logical].recordName);
  });

  it.each(LOGICAL_TOPICS)('%s: every record and field has a doc', (logical) => {
    for (const { path, record } of records(loadSchema(logical), logical)) {
      expect(typeof record.doc === 'string' && record.doc.length > 0, `${path} has no doc`).toBe(true);
      for (const f of record.fields as Obj[]) {
        expect(typeof f.doc === 'string' && f.doc.length > 0, `${path}.${String(f.name)} has no doc`).toBe(true);
      }
    }
  });

  it.each(LOGICAL_TOPICS)('%s: time fields are long timestamp-millis', (logical) => {
    const timeField = /(At|Time)$|^trained(From|To)$/;
    for (const { path, record } of records(loadSchema(logical), logical)) {
      for (const f of record.fields as Obj[]) {
        if (!timeField.test(String(f.name))) continue;
        const branches = (Array.isArray(f.type) ? f.type : [f.type]).filter((b) => b !== 'null');
        expect(branches, `${path}.${String(f.name)}`).toEqual([{ type: 'long', logicalType: 'timestamp-millis' }]);
      }
    }
  });

  it('every nullable field has a null default, so it can be added under BACKWARD compatibility', () => {
    for (const logical of LOGICAL_TOPICS) {
      for (const { path, record } of records(loadSchema(logical), logical)) {
        for (const f of record.fields as Obj[]) {
          if (!isNullable(f.type)) continue;
          expect((f.type as unknown[])[0], `${path}.${String(f.name)}: null must be the first branch`).toBe('null');
          expect('default' in f && f.default === null, `${path}.${String(f.name)} needs "default": null`).toBe(true);
        }
      }
    }
  });
});

describe('generated types', () => {
  it('schemas/types.ts matches the .avsc files byte for byte', () => {
    const committed = readFileSync(fileURLToPath(new URL('./types.ts', import.meta.url)), 'utf8');
    const expected = generateTypes(Object.values(allSchemas()));
    expect(committed, 'schemas/types.ts is out of date with schemas/avro/*.avsc: run `npm run schemas:codegen`').toBe(expected);
  });

  it('changes when an .avsc changes, so a stale types.ts is caught', () => {
    const schemas = Object.values(allSchemas());
    const candle = schemas[0] as Obj;
    const edited = { ...candle, fields: [...(candle.fields as Obj[]), { name: 'vwap', type: ['null', 'double'], default: null, doc: 'x' }] };
    const out = generateTypes([edited, ...schemas.slice(1)]);
    expect(out).not.toBe(generateTypes(schemas));
    expect(out).toContain('  vwap: number | null;');
  });

  it('is deterministic', () => {
    expect(generateTypes(Object.values(allSchemas()))).toBe(generateTypes(Object.values(allSchemas())));
  });
});

describe('samples', () => {
  it.each(LOGICAL_TOPICS)('%s: a valid record round-trips', (logical) => {
    const type = typeOf(logical);
    const sample = SAMPLES[logical];
    const problems: string[] = [];
    expect(type.isValid(sample, { errorHook: (path) => problems.push(path.join('.')) }), problems.join(', ')).toBe(true);
    const decoded: unknown = type.fromBuffer(type.toBuffer(sample));
    expect(decoded).toEqual(sample);
  });

  it('timestamps decode as plain numbers (ms since epoch), not Dates', () => {
    const decoded = typeOf('candles').fromBuffer(typeOf('candles').toBuffer(SAMPLES.candles)) as TopicValueMap['candles'];
    expect(typeof decoded.closeTime).toBe('number');
    expect(decoded.closeTime).toBe(T0 + HOUR);
  });

  it('optional fields accept null', () => {
    const candle = { ...SAMPLES.candles, quoteVolume: null, tradeCount: null };
    const scored = { ...SAMPLES.textScored, finbert: null };
    const model = { ...SAMPLES.models, expiresAt: null, metrics: {} };
    const dl = { ...SAMPLES.dlq, partition: null, offset: null, key: null, value: null, headers: [], consumerGroup: null };
    expect(typeOf('candles').isValid(candle)).toBe(true);
    expect(typeOf('textScored').isValid(scored)).toBe(true);
    expect(typeOf('models').isValid(model)).toBe(true);
    expect(typeOf('dlq').isValid(dl)).toBe(true);
  });

  const bad: [LogicalTopic, string, (s: Obj) => void][] = [
    [
      'candles',
      'string price',
      (s) => {
        s.close = '42100';
      },
    ],
    [
      'candles',
      'missing closeTime',
      (s) => {
        delete s.closeTime;
      },
    ],
    [
      'candles',
      'null symbol',
      (s) => {
        s.symbol = null;
      },
    ],
    [
      'candles',
      'fractional timestamp',
      (s) => {
        s.openTime = 1.5;
      },
    ],
    [
      'candles',
      'timestamp beyond safe integer range',
      (s) => {
        s.closeTime = 2 ** 60;
      },
    ],
    [
      'candles',
      'Date instead of ms',
      (s) => {
        s.ingestedAt = new Date(T0);
      },
    ],
    [
      'trades',
      'number tradeId',
      (s) => {
        s.tradeId = 1;
      },
    ],
    [
      'textRaw',
      'undefined text',
      (s) => {
        s.text = undefined;
      },
    ],
    [
      'textScored',
      'vader missing neg',
      (s) => {
        delete (s.vader as Obj).neg;
      },
    ],
    [
      'textScored',
      'finbert without modelId',
      (s) => {
        delete (s.finbert as Obj).modelId;
      },
    ],
    [
      'features',
      'string gapBefore',
      (s) => {
        s.gapBefore = 'false';
      },
    ],
    [
      'features',
      'string indicator',
      (s) => {
        s.rsi14 = '55';
      },
    ],
    [
      'predictions',
      'fractional horizonSteps',
      (s) => {
        s.horizonSteps = 1.5;
      },
    ],
    [
      'predictions',
      'horizonSteps beyond int32',
      (s) => {
        s.horizonSteps = 2 ** 31;
      },
    ],
    [
      'predictions',
      'null modelVersion',
      (s) => {
        s.modelVersion = null;
      },
    ],
    [
      'models',
      'string metric',
      (s) => {
        s.metrics = { mae: '0.1' };
      },
    ],
    [
      'dlq',
      'offset beyond what a JS number holds exactly',
      (s) => {
        s.offset = Number.MAX_SAFE_INTEGER;
      },
    ],
    [
      'dlq',
      'string value instead of bytes',
      (s) => {
        s.value = 'abc';
      },
    ],
    [
      'dlq',
      'header without key',
      (s) => {
        s.headers = [{ value: null }];
      },
    ],
    [
      'dlq',
      'headers not an array',
      (s) => {
        s.headers = null;
      },
    ],
  ];

  it.each(bad)('%s: rejects %s', (logical, _what, mutate) => {
    const sample = clone(SAMPLES[logical]) as unknown as Obj;
    mutate(sample);
    expect(typeOf(logical).isValid(sample)).toBe(false);
    expect(() => typeOf(logical).toBuffer(sample)).toThrow();
  });

  it.each(LOGICAL_TOPICS)('%s: truncated and padded buffers fail with an error', (logical) => {
    const type = typeOf(logical);
    const buf = type.toBuffer(SAMPLES[logical]);
    expect(() => {
      type.fromBuffer(buf.subarray(0, buf.length - 1));
    }).toThrow();
    expect(() => {
      type.fromBuffer(buf.subarray(0, 1));
    }).toThrow();
    expect(() => {
      type.fromBuffer(Buffer.concat([buf, Buffer.from([0])]));
    }).toThrow(/trailing/);
  });

  it('a string length prefix far larger than the buffer fails instead of allocating', () => {
    // Varint 2^40, zig-zag length 2^39: far beyond the 6-byte buffer.
    const huge = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    expect(() => {
      typeOf('trades').fromBuffer(huge);
    }).toThrow();
  });
});

describe('BACKWARD compatibility', () => {
  it.each(LOGICAL_TOPICS)('%s: a reader with the current schema reads data written before the defaulted fields existed', (logical) => {
    const current = loadSchema(logical);
    const newType = avsc.Type.forSchema(current as avsc.Schema);
    const oldSchema = withoutDefaultedFields(current) as Obj;
    const defaulted = (current.fields as Obj[]).filter((f) => 'default' in f);
    const oldType = avsc.Type.forSchema(oldSchema as avsc.Schema);
    const oldRecord = withoutKeys(
      SAMPLES[logical] as unknown as Obj,
      defaulted.map((f) => String(f.name)),
    );
    if (logical === 'dlq') delete oldRecord.headers;
    const resolver = newType.createResolver(oldType);
    const read = newType.fromBuffer(oldType.toBuffer(oldRecord), resolver) as Obj;
    const expected: Obj = { ...oldRecord };
    for (const f of defaulted) expected[String(f.name)] = f.default;
    expect(read).toEqual(expected);
  });

  it("predictions: records of schema version 1 (before distributions) read with today's schema, and today's with version 1", () => {
    const v1 = avsc.Type.forSchema(JSON.parse(readFileSync(`${REPO_ROOT}test/fixtures/schemas/prediction-v1.avsc`, 'utf8')) as avsc.Schema);
    const v2 = typeOf('predictions');
    const { quantileLevels: _q, horizons: _h, ...oldRecord } = SAMPLES.predictions;
    // Old data, new reader: the distribution fields take their defaults (empty).
    expect(v2.fromBuffer(v1.toBuffer(oldRecord), v2.createResolver(v1))).toEqual({ ...oldRecord, quantileLevels: [], horizons: [] });
    // New data, old reader: a consumer still on version 1 reads every field it knows, unchanged.
    expect(v1.fromBuffer(v2.toBuffer(SAMPLES.predictions), v1.createResolver(v2))).toEqual(oldRecord);
  });

  it('a field added without a default cannot be resolved (the check can fail)', () => {
    const current = loadSchema('candles');
    const widened = { ...current, fields: [...(current.fields as Obj[]), { name: 'vwap', type: 'double', doc: 'x' }] };
    const newType = avsc.Type.forSchema(widened as avsc.Schema);
    expect(() => newType.createResolver(typeOf('candles'))).toThrow();
  });
});

describe('topic map', () => {
  it('prefixes topic names and derives value subjects', () => {
    expect(topicName('candles')).toBe('market.candles');
    expect(topicName('features', 'staging.')).toBe('staging.features');
    expect(subjectFor(topicName('predictions', 'dev.'))).toBe('dev.predictions-value');
  });

  it('topic names and schema files are unique; only models is compacted', () => {
    const names = LOGICAL_TOPICS.map((t) => TOPICS[t].name);
    expect(new Set(names).size).toBe(names.length);
    expect(LOGICAL_TOPICS.filter((t) => TOPICS[t].compacted)).toEqual(['models']);
  });

  it('refuses an unknown logical topic with a clear error', () => {
    expect(() => topicName('nope' as LogicalTopic)).toThrow(BitPredictError);
    expect(() => loadSchema('toString' as LogicalTopic)).toThrow(/unknown logical topic "toString"/);
  });

  it('caches and freezes loaded schemas', () => {
    const a = loadSchema('features');
    expect(loadSchema('features')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.fields)).toBe(true);
    expect(Object.keys(allSchemas())).toEqual(LOGICAL_TOPICS);
  });

  it('docs/topics.md lists every topic with its key and record', () => {
    const doc = readFileSync(`${REPO_ROOT}docs/topics.md`, 'utf8');
    for (const logical of LOGICAL_TOPICS) {
      const spec = TOPICS[logical];
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${spec.name}\``));
      expect(row, `docs/topics.md has no table row for ${spec.name}`).toBeDefined();
      expect(row).toContain(spec.recordName.slice(spec.recordName.lastIndexOf('.') + 1));
    }
  });

  it.skipIf(!existsSync(ARCHITECTURE))('every topic in ARCHITECTURE.md has a schema', () => {
    const text = readFileSync(ARCHITECTURE, 'utf8');
    const section = text.slice(text.indexOf('## Topics'));
    const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| ---')));
    const names = [...table.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(0);
    const ours = LOGICAL_TOPICS.map((t) => TOPICS[t].name);
    expect([...names].sort()).toEqual([...ours].sort());
  });
});
