// The REST client: GET /v1/... on the page's own origin with the API key in X-API-Key. A 401 is
// an AuthError (the page then asks for a key), a network failure a NetworkError (the gateway is
// down or unreachable), anything else non-2xx an HttpError; 404 ("nothing yet") reads as empty.
// Live scores are not read here: GET /v1/scores answers 404 until the monitor has scored
// something, which a browser logs as a console error, and the scores channel's snapshot carries
// the latest score of every forecaster, horizon and window in one message anyway.
import { parseAll, parseCandle, parseFeature, parseModels, parsePrediction, isObject } from './parse.js';
import type { Candle, Feature, ModelsInfo, Prediction } from './types.js';

export class AuthError extends Error {
  override readonly name = 'AuthError';
}
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Fetch = (url: string, init: { headers: Record<string, string>; signal?: AbortSignal }) => Promise<{ status: number; json(): Promise<unknown> }>;

export interface ApiDeps {
  fetch: Fetch;
  /** The current key, or null (open gateway, or none entered yet). */
  key(): string | null;
  /** Aborts the requests of a page that moved to another symbol or interval. */
  signal?: AbortSignal;
}

/** Records from one history answer, and how many failed the checks. */
export interface Page<T> {
  items: T[];
  rejected: number;
}

/**
 * History read on open. Candles: as many as the gateway keeps (10,000 hours is over a year).
 * Vectors and predictions are heavier (about 1 KB and 1.4 KB each against 0.3 KB a candle) and
 * matter near the present: indicator overlays over the last 1,000 candles, and 1,500 predictions
 * (300 forecast times of the model and four baselines) for the past band and the outcomes.
 */
export const CANDLE_LIMIT = 10_000;
export const FEATURE_LIMIT = 1_000;
export const PREDICTION_LIMIT = 1_500;

export interface Api {
  candles(symbol: string, interval: string, opts?: Range): Promise<Page<Candle>>;
  features(symbol: string, interval: string, opts?: Range): Promise<Page<Feature>>;
  predictions(symbol: string, opts?: Range): Promise<Page<Prediction>>;
  models(): Promise<ModelsInfo | null>;
}

export interface Range {
  from?: number;
  limit?: number;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  return q.toString();
}

function messageOf(body: unknown, status: number): string {
  return isObject(body) && typeof body.message === 'string' ? body.message.slice(0, 200) : `HTTP ${status}`;
}

export function createApi(deps: ApiDeps): Api {
  /** The JSON of a GET, or null for a 404. */
  async function get(path: string): Promise<unknown> {
    const key = deps.key();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (key !== null) headers['x-api-key'] = key;
    let res: Awaited<ReturnType<Fetch>>;
    try {
      res = await deps.fetch(path, deps.signal === undefined ? { headers } : { headers, signal: deps.signal });
    } catch (err) {
      if (deps.signal?.aborted === true) throw err;
      throw new NetworkError(`the gateway did not answer ${path.split('?')[0]}`);
    }
    const body = await res.json().catch(() => null);
    if (res.status === 401) throw new AuthError(messageOf(body, res.status));
    if (res.status === 404) return null;
    if (res.status < 200 || res.status >= 300) throw new HttpError(res.status, messageOf(body, res.status));
    return body;
  }

  async function history<T>(path: string, field: string, parse: (x: unknown) => T | null): Promise<Page<T>> {
    const body = await get(path);
    return isObject(body) ? parseAll(body[field], parse) : { items: [], rejected: 0 };
  }

  return {
    candles: (symbol, interval, r = {}) =>
      history(`/v1/candles?${query({ symbol, interval, limit: r.limit ?? CANDLE_LIMIT, from: r.from })}`, 'candles', parseCandle),
    features: (symbol, interval, r = {}) =>
      history(`/v1/features?${query({ symbol, interval, limit: r.limit ?? FEATURE_LIMIT, from: r.from })}`, 'features', parseFeature),
    predictions: (symbol, r = {}) =>
      history(`/v1/predictions?${query({ symbol, limit: r.limit ?? PREDICTION_LIMIT, from: r.from })}`, 'predictions', parsePrediction),
    models: async () => parseModels(await get('/v1/models')),
  };
}
