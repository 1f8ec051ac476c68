// REST v1 routes on a bare fastify instance with fake sources: query parsing and validation
// (symbol, from/to, limit, interval), the answers and their status codes, and the OpenAPI document.
import { afterEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { BitPredictError } from '../../core/errors.js';
import type { FeatureVector, Prediction, Score } from '../../schemas/types.js';
import type { ModelsSnapshot } from '../models-view.js';
import { parseInstant, parseRange, registerRestRoutes, HISTORY_LIMIT_DEFAULT, type RestDeps } from './routes.js';
import { bareFeature } from '../../test/helpers/features.js';
import { candle } from '../../test/helpers/candles.js';

const T0 = Date.UTC(2024, 0, 31, 12);

function prediction(over: Partial<Prediction> = {}): Prediction {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime: T0,
    targetTime: T0 + 3_600_000,
    horizonSteps: 1,
    predictedLogReturn: 0.001,
    predictedPrice: 42_042,
    probUp: 0.55,
    modelName: 'ema-drift',
    modelVersion: '1',
    isBaseline: true,
    featureSetVersion: 'fs-2',
    candleIngestedAt: T0 + 10,
    featuresComputedAt: T0 + 20,
    predictedAt: T0 + 30,
    quantileLevels: [],
    horizons: [],
    ...over,
  };
}

const feature = (interval: string): FeatureVector => bareFeature(interval, T0);

function score(over: Partial<Score> = {}): Score {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    modelName: 'persistence',
    modelVersion: 'b1',
    isBaseline: true,
    horizonSteps: 1,
    windowMs: 86_400_000,
    eventTime: T0,
    samples: 24,
    missing: 1,
    pinballLoss: 0.0012,
    scaleLoss: -9.1,
    meanSquaredError: 2e-5,
    brierScore: 0.25,
    coverage: [{ level: 0.8, coverage: 0.79, meanWidth: 0.011 }],
    skillVsPersistence: null,
    skillVsBestBaseline: -0.02,
    bestBaseline: 'garch',
    computedAt: T0 + 5,
    ...over,
  };
}

const SCORES = [
  score(),
  score({ windowMs: 7 * 86_400_000 }),
  score({ modelName: 'lstm-attention', isBaseline: false, skillVsPersistence: 0.03 }),
  score({ horizonSteps: 4 }),
  score({ interval: '1m', modelName: 'garch' }),
];

interface Calls {
  history: { symbol: string; from: number | null; to: number | null; limit: number }[];
  features: { symbol: string; interval: string | null }[];
  series: { what: string; symbol: string; interval: string; from: number | null; to: number | null; limit: number }[];
}

function fakes(over: Partial<RestDeps['sources']> = {}, snap?: ModelsSnapshot): { deps: RestDeps; calls: Calls } {
  const calls: Calls = { history: [], features: [], series: [] };
  const deps: RestDeps = {
    sources: {
      latestPrediction: async (symbol) => (symbol === 'BTCUSDT' ? prediction() : null),
      predictionHistory: async (symbol, from, to, limit) => {
        calls.history.push({ symbol, from, to, limit });
        return [prediction(), prediction({ eventTime: T0 + 3_600_000 })];
      },
      latestFeatures: async (symbol, interval) => {
        calls.features.push({ symbol, interval });
        if (symbol !== 'BTCUSDT') return [];
        return interval === null ? [feature('1m'), feature('1h')] : [feature(interval)];
      },
      predictionBoard: async (symbol) => (symbol === 'BTCUSDT' ? [prediction(), prediction({ modelName: 'garch' })] : []),
      latestScores: async (symbol) => (symbol === 'BTCUSDT' ? SCORES : []),
      candleHistory: async (symbol, interval, from, to, limit) => {
        calls.series.push({ what: 'candles', symbol, interval, from, to, limit });
        return symbol === 'BTCUSDT' ? [candle(T0), candle(T0 + 3_600_000)] : [];
      },
      featureHistory: async (symbol, interval, from, to, limit) => {
        calls.series.push({ what: 'features', symbol, interval, from, to, limit });
        return symbol === 'BTCUSDT' ? [feature(interval)] : [];
      },
      ...over,
    },
    models: { snapshot: () => snap ?? { name: 'lstm-attention', champion: null, versions: [] } },
  };
  return { deps, calls };
}

let app: FastifyInstance | undefined;
const scopes = new Map<string, string | undefined>();

async function build(deps: RestDeps): Promise<FastifyInstance> {
  app = Fastify();
  app.addHook('onRoute', (r) => {
    if (r.method === 'GET') scopes.set(r.url, r.config?.scope);
  });
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } });
  await registerRestRoutes(app, deps);
  await app.ready();
  return app;
}

afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('parseInstant', () => {
  it('reads epoch ms, ISO dates and ISO date-times with a zone', () => {
    expect(parseInstant('1706702400000')).toBe(T0);
    expect(parseInstant('2024-01-31T12:00:00Z')).toBe(T0);
    expect(parseInstant('2024-01-31T12:00:00.000z')).toBe(T0);
    expect(parseInstant('2024-01-31T14:00:00+02:00')).toBe(T0);
    expect(parseInstant('2024-01-31T12:00Z')).toBe(T0);
    expect(parseInstant('2024-01-31')).toBe(Date.UTC(2024, 0, 31));
    expect(parseInstant('0')).toBe(0);
  });

  it('refuses what is neither, days that do not exist and times without a zone', () => {
    for (const bad of [
      '',
      'yesterday',
      '2024-02-30',
      '2024-13-01',
      '2024-01-31T12:00:00',
      '2024-01-31T24:00:00Z',
      '-5',
      '1.5',
      '99999999999999999',
      '2024-01-31 12:00:00Z',
    ]) {
      expect(parseInstant(bad), bad).toBeNull();
    }
  });
});

describe('parseRange', () => {
  it('accepts open bounds and from == to', () => {
    expect(parseRange(undefined, undefined)).toEqual({ ok: true, from: null, to: null });
    expect(parseRange(String(T0), String(T0))).toEqual({ ok: true, from: T0, to: T0 });
  });

  it('names the bad bound', () => {
    const f = parseRange('soon', undefined);
    expect(f.ok).toBe(false);
    if (!f.ok) expect(f.message).toMatch(/^from must be/);
    const t = parseRange(undefined, '2024-02-30');
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.message).toMatch(/^to must be/);
    const order = parseRange('2024-02-01', '2024-01-01');
    expect(order.ok).toBe(false);
    if (!order.ok) expect(order.message).toBe('from (2024-02-01T00:00:00.000Z) is after to (2024-01-01T00:00:00.000Z)');
  });
});

describe('GET /v1/predictions/latest', () => {
  it('answers the latest prediction, symbol case-insensitive, not cacheable', async () => {
    const a = await build(fakes().deps);
    const res = await a.inject({ url: '/v1/predictions/latest?symbol=btcusdt' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual(prediction());
  });

  it('404 when there is none, 400 for a bad or missing symbol', async () => {
    const a = await build(fakes().deps);
    const none = await a.inject({ url: '/v1/predictions/latest?symbol=ETHUSDT' });
    expect(none.statusCode).toBe(404);
    expect(none.json()).toEqual({ code: 'ERR_NOT_FOUND', message: 'no prediction for ETHUSDT yet' });
    expect(none.headers['cache-control']).toBe('no-store');
    for (const q of ['symbol=B', 'symbol=BTC-USDT', `symbol=${'A'.repeat(21)}`, 'symbol=']) {
      const res = await a.inject({ url: `/v1/predictions/latest?${q}` });
      expect(res.statusCode, q).toBe(400);
      expect(res.json(), q).toEqual({ code: 'ERR_VALIDATION', message: 'symbol must be 2 to 20 letters or digits (for example BTCUSDT)' });
    }
    const missing = await a.inject({ url: '/v1/predictions/latest' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ code: 'ERR_VALIDATION', message: 'symbol is required' });
  });

  it('503 ERR_UNAVAILABLE when the store fails, 500 for a corrupt value', async () => {
    const down = await build(fakes({ latestPrediction: () => Promise.reject(new BitPredictError('ERR_REDIS', 'connection refused')) }).deps);
    const res = await down.inject({ url: '/v1/predictions/latest?symbol=BTCUSDT' });
    expect(res.statusCode).toBe(503);
    expect(res.json<{ code: string }>().code).toBe('ERR_UNAVAILABLE');
    await down.close();
    const corrupt = await build(fakes({ latestPrediction: () => Promise.reject(new BitPredictError('ERR_INTERNAL', 'not JSON', { retryable: false })) }).deps);
    const bad = await corrupt.inject({ url: '/v1/predictions/latest?symbol=BTCUSDT' });
    expect(bad.statusCode).toBe(500);
    expect(bad.json<{ code: string }>().code).toBe('ERR_INTERNAL');
  });
});

describe('GET /v1/predictions', () => {
  it('passes bounds and limit to the source and echoes them', async () => {
    const { deps, calls } = fakes();
    const a = await build(deps);
    const res = await a.inject({ url: '/v1/predictions?symbol=btcusdt&from=2024-01-31T12:00:00Z&to=1706709600000&limit=5' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(calls.history).toEqual([{ symbol: 'BTCUSDT', from: T0, to: T0 + 7_200_000, limit: 5 }]);
    const body = res.json<{ predictions: Prediction[] }>();
    expect(body).toMatchObject({ symbol: 'BTCUSDT', from: T0, to: T0 + 7_200_000, count: 2 });
    expect(body.predictions).toHaveLength(2);
    expect(body.predictions[1]?.eventTime).toBe(T0 + 3_600_000);
  });

  it('defaults: no bounds, limit 1000', async () => {
    const { deps, calls } = fakes();
    const a = await build(deps);
    const res = await a.inject({ url: '/v1/predictions?symbol=BTCUSDT' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ from: null, to: null });
    expect(calls.history).toEqual([{ symbol: 'BTCUSDT', from: null, to: null, limit: HISTORY_LIMIT_DEFAULT }]);
  });

  it('400 with a clear message for bad limits, dates and order; the source is not asked', async () => {
    const { deps, calls } = fakes();
    const a = await build(deps);
    const cases: [string, string | RegExp][] = [
      ['limit=0', 'limit must be an integer from 1 to 10000'],
      ['limit=10001', 'limit must be an integer from 1 to 10000'],
      ['limit=abc', 'limit must be an integer from 1 to 10000'],
      ['limit=2.5', 'limit must be an integer from 1 to 10000'],
      ['from=tomorrow', /^from must be an ISO-8601 time/],
      ['to=2024-01-31T12:00:00', /^to must be an ISO-8601 time/],
      [`from=${'9'.repeat(41)}`, /^from must be/],
      ['from=2024-02-01&to=2024-01-01', 'from (2024-02-01T00:00:00.000Z) is after to (2024-01-01T00:00:00.000Z)'],
    ];
    for (const [q, message] of cases) {
      const res = await a.inject({ url: `/v1/predictions?symbol=BTCUSDT&${q}` });
      expect(res.statusCode, q).toBe(400);
      expect(res.json<{ code: string }>().code, q).toBe('ERR_VALIDATION');
      expect(res.json<{ message: string }>().message, q).toMatch(message);
    }
    expect(calls.history).toEqual([]);
  });

  it('limit 10000 is allowed', async () => {
    const { deps, calls } = fakes();
    const a = await build(deps);
    expect((await a.inject({ url: '/v1/predictions?symbol=BTCUSDT&limit=10000' })).statusCode).toBe(200);
    expect(calls.history[0]?.limit).toBe(10_000);
  });
});

describe('GET /v1/features/latest', () => {
  it('one interval: the vector itself; no interval: every interval that has one', async () => {
    const { deps, calls } = fakes();
    const a = await build(deps);
    const one = await a.inject({ url: '/v1/features/latest?symbol=BTCUSDT&interval=1h' });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual(feature('1h'));
    const all = await a.inject({ url: '/v1/features/latest?symbol=btcusdt' });
    expect(all.statusCode).toBe(200);
    expect(all.json()).toEqual({ symbol: 'BTCUSDT', features: [feature('1m'), feature('1h')] });
    expect(calls.features).toEqual([
      { symbol: 'BTCUSDT', interval: '1h' },
      { symbol: 'BTCUSDT', interval: null },
    ]);
  });

  it('404 when none, 400 for an unknown interval', async () => {
    const a = await build(fakes().deps);
    const none = await a.inject({ url: '/v1/features/latest?symbol=ETHUSDT' });
    expect(none.statusCode).toBe(404);
    expect(none.json<{ code: string }>().code).toBe('ERR_NOT_FOUND');
    const bad = await a.inject({ url: '/v1/features/latest?symbol=BTCUSDT&interval=2h' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ code: 'ERR_VALIDATION', message: 'interval must be one of 1m, 5m, 15m, 1h, 4h, 1d' });
  });
});

describe('GET /v1/candles and /v1/features (series history)', () => {
  it('passes the series, bounds and limit to the source and answers oldest first with the bounds echoed', async () => {
    const { deps, calls } = fakes();
    const a = await build(deps);
    const res = await a.inject({ url: '/v1/candles?symbol=btcusdt&interval=1h&from=2024-01-31&to=1706716800000&limit=10000' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json<{ symbol: string; interval: string; from: number; to: number; count: number; candles: { openTime: number }[] }>();
    expect(body).toMatchObject({ symbol: 'BTCUSDT', interval: '1h', from: Date.UTC(2024, 0, 31), to: 1706716800000, count: 2 });
    expect(body.candles.map((c) => c.openTime)).toEqual([T0, T0 + 3_600_000]);
    const f = await a.inject({ url: '/v1/features?symbol=BTCUSDT&interval=1m' });
    expect(f.statusCode).toBe(200);
    expect(f.json<{ features: FeatureVector[] }>().features[0]?.interval).toBe('1m');
    expect(calls.series).toEqual([
      { what: 'candles', symbol: 'BTCUSDT', interval: '1h', from: Date.UTC(2024, 0, 31), to: 1706716800000, limit: 10000 },
      { what: 'features', symbol: 'BTCUSDT', interval: '1m', from: null, to: null, limit: HISTORY_LIMIT_DEFAULT },
    ]);
  });

  it('an empty list, not 404, for a series with no history', async () => {
    const a = await build(fakes().deps);
    const res = await a.inject({ url: '/v1/candles?symbol=ETHUSDT&interval=1h' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ symbol: 'ETHUSDT', count: 0, candles: [] });
  });

  it('400 with a clear message for a missing or unknown interval, bad bounds or limits; the source is not asked', async () => {
    const { deps, calls } = fakes();
    const a = await build(deps);
    const cases: [string, RegExp][] = [
      ['/v1/candles?symbol=BTCUSDT', /interval is required/],
      ['/v1/candles?symbol=BTCUSDT&interval=2h', /interval must be one of 1m, 5m/],
      ['/v1/features?symbol=BTCUSDT&interval=1h&limit=10001', /limit must be an integer from 1 to 10000/],
      ['/v1/candles?symbol=BTCUSDT&interval=1h&from=2024-02-30', /from must be/],
      ['/v1/candles?symbol=BTCUSDT&interval=1h&from=2024-02-02&to=2024-02-01', /is after to/],
      ['/v1/candles?symbol=B&interval=1h', /symbol must be 2 to 20/],
    ];
    for (const [url, message] of cases) {
      const res = await a.inject({ url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json(), url).toMatchObject({ code: 'ERR_VALIDATION' });
      expect(res.json<{ message: string }>().message, url).toMatch(message);
    }
    expect(calls.series).toEqual([]);
  });

  it('503 when the store or the registry is unreachable, 500 for a stored value that does not decode', async () => {
    const down = await build(
      fakes({
        candleHistory: async () => {
          throw new BitPredictError('ERR_REDIS', 'reading the candle history from Redis failed: connection refused');
        },
        featureHistory: async () => {
          throw new BitPredictError('ERR_INTERNAL', 'stored feature vector could not be decoded: truncated', { retryable: false });
        },
      }).deps,
    );
    const c = await down.inject({ url: '/v1/candles?symbol=BTCUSDT&interval=1h' });
    expect(c.statusCode).toBe(503);
    expect(c.json()).toMatchObject({ code: 'ERR_UNAVAILABLE' });
    const f = await down.inject({ url: '/v1/features?symbol=BTCUSDT&interval=1h' });
    expect(f.statusCode).toBe(500);
    expect(f.json()).toMatchObject({ code: 'ERR_INTERNAL', message: 'the feature history could not be read' });
  });
});

describe('GET /v1/predictions/board', () => {
  it("answers every forecaster's latest prediction; 404 without a board", async () => {
    const a = await build(fakes().deps);
    const res = await a.inject({ url: '/v1/predictions/board?symbol=btcusdt' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({ symbol: 'BTCUSDT', predictions: [prediction(), prediction({ modelName: 'garch' })] });
    const none = await a.inject({ url: '/v1/predictions/board?symbol=ETHUSDT' });
    expect(none.statusCode).toBe(404);
    expect(none.json()).toEqual({ code: 'ERR_NOT_FOUND', message: 'no prediction board for ETHUSDT yet' });
    expect((await a.inject({ url: '/v1/predictions/board?symbol=B' })).statusCode).toBe(400);
  });

  it('503 when the store fails', async () => {
    const a = await build(fakes({ predictionBoard: () => Promise.reject(new BitPredictError('ERR_REDIS', 'down')) }).deps);
    expect((await a.inject({ url: '/v1/predictions/board?symbol=BTCUSDT' })).statusCode).toBe(503);
  });
});

describe('GET /v1/scores', () => {
  it('answers the scores of one horizon, optionally of one interval and one model', async () => {
    const a = await build(fakes().deps);
    const res = await a.inject({ url: '/v1/scores?symbol=btcusdt&horizon=1' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({ symbol: 'BTCUSDT', horizon: 1, scores: [SCORES[0], SCORES[1], SCORES[2], SCORES[4]] });
    const h4 = await a.inject({ url: '/v1/scores?symbol=BTCUSDT&horizon=4' });
    expect(h4.json<{ scores: Score[] }>().scores).toEqual([SCORES[3]]);
    const one = await a.inject({ url: '/v1/scores?symbol=BTCUSDT&horizon=1&interval=1h&model=lstm-attention' });
    expect(one.json<{ scores: Score[] }>().scores).toEqual([SCORES[2]]);
    const m = await a.inject({ url: '/v1/scores?symbol=BTCUSDT&horizon=1&interval=1m' });
    expect(m.json<{ scores: Score[] }>().scores).toEqual([SCORES[4]]);
  });

  it('404 when nothing matches, 400 with a clear message for a bad query, 503 when the store fails', async () => {
    const a = await build(fakes().deps);
    const none = await a.inject({ url: '/v1/scores?symbol=BTCUSDT&horizon=24&model=garch' });
    expect(none.statusCode).toBe(404);
    expect(none.json()).toEqual({ code: 'ERR_NOT_FOUND', message: 'no live scores for BTCUSDT garch at horizon 24 yet' });
    const cases: [string, string][] = [
      ['symbol=BTCUSDT', 'horizon is required'],
      ['symbol=BTCUSDT&horizon=0', 'horizon must be an integer from 1 to 10000 (steps of the interval)'],
      ['symbol=BTCUSDT&horizon=1.5', 'horizon must be an integer from 1 to 10000 (steps of the interval)'],
      ['symbol=BTCUSDT&horizon=abc', 'horizon must be an integer from 1 to 10000 (steps of the interval)'],
      ['symbol=BTCUSDT&horizon=1&interval=2h', 'interval must be one of 1m, 5m, 15m, 1h, 4h, 1d'],
      ['symbol=BTCUSDT&horizon=1&model=a%20b', 'model must be 1 to 64 letters, digits, dots, dashes or underscores'],
      [`symbol=BTCUSDT&horizon=1&model=${'m'.repeat(65)}`, 'model must be 1 to 64 letters, digits, dots, dashes or underscores'],
      ['horizon=1', 'symbol is required'],
    ];
    for (const [q, message] of cases) {
      const res = await a.inject({ url: `/v1/scores?${q}` });
      expect(res.statusCode, q).toBe(400);
      expect(res.json(), q).toEqual({ code: 'ERR_VALIDATION', message });
    }
    const down = await build(fakes({ latestScores: () => Promise.reject(new BitPredictError('ERR_REDIS', 'down')) }).deps);
    expect((await down.inject({ url: '/v1/scores?symbol=BTCUSDT&horizon=1' })).statusCode).toBe(503);
    await down.close();
  });
});

describe('GET /v1/models', () => {
  it('answers the snapshot', async () => {
    const champion = {
      version: 'v2',
      featureSetVersion: 'fs-2',
      trainedFrom: 1,
      trainedTo: 2,
      metrics: { valMse: 0.5 },
      backend: 'cpu',
      codeVersion: 'c',
      createdAt: 3,
      expiresAt: null,
    };
    const snap: ModelsSnapshot = { name: 'lstm-attention', champion, versions: [{ ...champion, champion: true, announced: true, inStore: false }] };
    // A view that still carried a server-side path: the answer's schema drops it all the same.
    const leaky = {
      ...snap,
      champion: { ...champion, artifactUri: 'file:///m/v2' },
      versions: snap.versions.map((v) => ({ ...v, artifactUri: 'kafka://model-artifacts/m/v2' })),
    };
    const a = await build(fakes({}, leaky).deps);
    const res = await a.inject({ url: '/v1/models' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual(snap);
    expect(res.body).not.toMatch(/file:|kafka:/);
  });
});

describe('OpenAPI', () => {
  it('documents every route with tags, summary, query and every response code, and the read scope', async () => {
    const a = await build(fakes().deps);
    const doc = a.swagger() as {
      paths: Record<string, { get: { tags: string[]; summary: string; parameters?: { name: string }[]; responses: Record<string, unknown> } }>;
    };
    for (const path of [
      '/v1/predictions/latest',
      '/v1/predictions',
      '/v1/predictions/board',
      '/v1/scores',
      '/v1/features/latest',
      '/v1/candles',
      '/v1/features',
      '/v1/models',
    ]) {
      const op = doc.paths[path]?.get;
      expect(op, path).toBeDefined();
      expect(op?.tags.length, path).toBeGreaterThan(0);
      expect(op?.summary, path).toBeTruthy();
      expect(Object.keys(op?.responses ?? {}).sort(), path).toEqual(['200', '400', '401', '403', '404', '500', '503']);
    }
    expect(doc.paths['/v1/predictions']?.get.parameters?.map((p) => p.name).sort()).toEqual(['from', 'limit', 'symbol', 'to']);
    expect(doc.paths['/v1/scores']?.get.parameters?.map((p) => p.name).sort()).toEqual(['horizon', 'interval', 'model', 'symbol']);
    expect(doc.paths['/v1/candles']?.get.parameters?.map((p) => p.name).sort()).toEqual(['from', 'interval', 'limit', 'symbol', 'to']);
    expect(Object.fromEntries(scopes)).toEqual({
      '/v1/predictions/latest': 'read',
      '/v1/predictions': 'read',
      '/v1/predictions/board': 'read',
      '/v1/scores': 'read',
      '/v1/features/latest': 'read',
      '/v1/candles': 'read',
      '/v1/features': 'read',
      '/v1/models': 'read',
    });
  });
});
