// REST v1: predictions (latest, the board of every forecaster, history), latest features, live
// scores and the model registry. Every route has a full JSON schema (TypeBox), so
// @fastify/swagger documents it and fastify validates the query and serialises the answer; the
// Prediction, FeatureVector and Score schemas are derived from the
// .avsc files, the contract of the topics, so the API cannot drift from what the topics carry.
// Routes declare `config.scope: 'read'`; the app's onRequest hook enforces it (gateway/app.ts).
// Query errors are answered here (attachValidation) with the project's ERR_VALIDATION and a clear
// message, so the routes behave the same on any fastify instance.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { errorMessage, isBitPredictError, type ErrorCode } from '../../core/errors.js';
import { loadSchema, type LogicalTopic } from '../../schemas/index.js';
import type { Candle, FeatureVector, Prediction, Score } from '../../schemas/types.js';
import type { Logger } from '../../core/logger.js';
import type {} from '../types.js';
import { normaliseSymbol } from '../stream/protocol.js';
import type { ModelsSnapshot } from '../models-view.js';
import { CANDIDATE_INTERVALS, type RedisSources } from './sources.js';

export interface RestDeps {
  sources: Pick<
    RedisSources,
    'latestPrediction' | 'predictionHistory' | 'latestFeatures' | 'predictionBoard' | 'latestScores' | 'candleHistory' | 'featureHistory'
  >;
  models: { snapshot(): ModelsSnapshot };
  /** Defaults to the app's logger. */
  logger?: Logger;
}

export const HISTORY_LIMIT_DEFAULT = 1000;
export const HISTORY_LIMIT_MAX = 10_000;
/** The longest horizon /v1/scores accepts (steps). */
export const HORIZON_MAX = 10_000;

interface ErrorBody {
  code: ErrorCode;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Query parsing (exported for tests)

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d{1,9})?)?(Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d))?$/i;
/** Date.parse's range: +-8.64e15 ms around the epoch. */
const MAX_EPOCH_MS = 8.64e15;

/**
 * An instant given as epoch milliseconds (digits only) or ISO-8601: a date (UTC midnight) or a
 * date-time with a zone (Z or +hh:mm). A date-time without a zone is refused, because it would be
 * read in the server's time zone. Null when the text is neither.
 */
export function parseInstant(text: string): number | null {
  const s = text.trim();
  if (/^\d{1,16}$/.test(s)) {
    const n = Number(s);
    return n <= MAX_EPOCH_MS ? n : null;
  }
  const m = ISO_RE.exec(s);
  if (!m) return null;
  const [, y, mo, d] = m;
  // Date.parse rolls 2024-02-30 over into March; a day that does not exist is an error.
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) return null;
  const t = Date.parse(s.toUpperCase());
  return Number.isFinite(t) ? t : null;
}

export type Range = { ok: true; from: number | null; to: number | null } | { ok: false; message: string };

const INSTANT_HELP = 'an ISO-8601 time with a zone (2024-01-31T12:00:00Z), a date (2024-01-31) or epoch milliseconds';

/** from/to of the history query: both optional, from inclusive, to exclusive, from <= to. */
export function parseRange(from: string | undefined, to: string | undefined): Range {
  const f = from === undefined ? null : parseInstant(from);
  if (from !== undefined && f === null) return { ok: false, message: `from must be ${INSTANT_HELP}; got "${from.slice(0, 40)}"` };
  const t = to === undefined ? null : parseInstant(to);
  if (to !== undefined && t === null) return { ok: false, message: `to must be ${INSTANT_HELP}; got "${to.slice(0, 40)}"` };
  if (f !== null && t !== null && f > t) return { ok: false, message: `from (${new Date(f).toISOString()}) is after to (${new Date(t).toISOString()})` };
  return { ok: true, from: f, to: t };
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** A clear message for the first schema violation of a query. */
export function validationMessage(err: Error & { validation?: unknown }): string {
  const first = Array.isArray(err.validation) ? (err.validation[0] as AjvError | undefined) : undefined;
  if (!first) return err.message;
  const missing = first.params?.missingProperty;
  const field = first.keyword === 'required' ? (typeof missing === 'string' ? missing : '') : (first.instancePath ?? '').replace(/^\//, '');
  if (first.keyword === 'required') return `${field} is required`;
  switch (field) {
    case 'symbol':
      return 'symbol must be 2 to 20 letters or digits (for example BTCUSDT)';
    case 'limit':
      return `limit must be an integer from 1 to ${HISTORY_LIMIT_MAX}`;
    case 'interval':
      return `interval must be one of ${CANDIDATE_INTERVALS.join(', ')}`;
    case 'horizon':
      return `horizon must be an integer from 1 to ${HORIZON_MAX} (steps of the interval)`;
    case 'model':
      return 'model must be 1 to 64 letters, digits, dots, dashes or underscores';
    case 'from':
    case 'to':
      return `${field} must be ${INSTANT_HELP}`;
    default:
      return field ? `${field} ${first.message ?? 'is invalid'}` : err.message;
  }
}

// ---------------------------------------------------------------------------------------------
// Schemas

interface AvroField {
  name: string;
  type: unknown;
  doc?: string;
}

/** A TypeBox schema for an Avro type (the subset the topic schemas use). */
function fromAvro(t: unknown, description?: string): TSchema {
  const opts = description === undefined ? {} : { description };
  if (Array.isArray(t)) {
    const branches = t.filter((b) => b !== 'null').map((b) => fromAvro(b));
    const inner = branches.length === 1 ? branches[0]! : Type.Union(branches);
    return t.includes('null') ? Type.Union([inner, Type.Null()], opts) : inner;
  }
  if (typeof t === 'string') {
    switch (t) {
      case 'string':
        return Type.String(opts);
      case 'int':
      case 'long':
        return Type.Integer(opts);
      case 'float':
      case 'double':
        return Type.Number(opts);
      case 'boolean':
        return Type.Boolean(opts);
      case 'null':
        return Type.Null(opts);
      default:
        throw new Error(`Avro type ${t} has no JSON schema here`);
    }
  }
  const o = t as { type?: unknown; logicalType?: string; values?: unknown; items?: unknown; fields?: AvroField[] };
  if (o.type === 'map') return Type.Record(Type.String(), fromAvro(o.values), opts);
  if (o.type === 'array') return Type.Array(fromAvro(o.items), opts);
  if (o.type === 'record') return Type.Object(Object.fromEntries((o.fields ?? []).map((f) => [f.name, fromAvro(f.type, f.doc)])), opts);
  if (o.logicalType === 'timestamp-millis') return Type.Integer({ ...opts, description: `${description ?? ''} (epoch ms)`.trim() });
  return fromAvro(o.type, description);
}

function recordSchema(logical: LogicalTopic): TSchema {
  const avro = loadSchema(logical) as { doc?: string };
  return fromAvro(avro, avro.doc);
}

const ErrorSchema = Type.Object({ code: Type.String({ description: 'ERR_* code (docs/errors.md)' }), message: Type.String() }, { description: 'An error' });

const errorResponses = {
  400: { ...ErrorSchema, description: 'ERR_VALIDATION: the query is invalid' },
  401: { ...ErrorSchema, description: 'ERR_UNAUTHENTICATED: no API key, or an unknown or revoked one' },
  403: { ...ErrorSchema, description: 'ERR_FORBIDDEN or ERR_ORIGIN_FORBIDDEN' },
  404: { ...ErrorSchema, description: 'ERR_NOT_FOUND: nothing stored yet' },
  500: { ...ErrorSchema, description: 'ERR_INTERNAL: a server defect; the details are in the server log' },
  503: { ...ErrorSchema, description: 'ERR_UNAVAILABLE: the store is not available right now; retry later' },
};

const SymbolQuery = Type.String({
  pattern: '^[A-Za-z0-9]{2,20}$',
  description: 'Exchange symbol, case-insensitive (answers use upper case)',
  examples: ['BTCUSDT'],
});
const IntervalQuery = Type.Unsafe<(typeof CANDIDATE_INTERVALS)[number]>({ type: 'string', enum: [...CANDIDATE_INTERVALS], description: 'Candle interval' });

const LatestQuery = Type.Object({ symbol: SymbolQuery });
/** The bounds and limit of a history query: `time` is the field they apply to, `noun` what is listed. */
function rangeFields(time: string, noun: string) {
  return {
    from: Type.Optional(
      Type.String({
        maxLength: 40,
        description: `Inclusive lower bound of ${time}: ISO-8601 with a zone, a date, or epoch ms. Without it: the newest \`limit\` ${noun} before \`to\`.`,
      }),
    ),
    to: Type.Optional(
      Type.String({ maxLength: 40, description: `Exclusive upper bound of ${time}: ISO-8601 with a zone, a date, or epoch ms. Without it: no upper bound.` }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: HISTORY_LIMIT_MAX,
        default: HISTORY_LIMIT_DEFAULT,
        description: `At most this many ${noun} (the first ones from \`from\`, else the newest)`,
      }),
    ),
  };
}
const HistoryQuery = Type.Object({ symbol: SymbolQuery, ...rangeFields('eventTime', 'predictions') });
/** The series history query: a symbol's one interval, with the bounds and limit of HistoryQuery. */
function seriesHistoryQuery(time: string, noun: string) {
  return Type.Object({ symbol: SymbolQuery, interval: IntervalQuery, ...rangeFields(time, noun) });
}
type SeriesHistoryQuery = Static<ReturnType<typeof seriesHistoryQuery>>;
const FeaturesQuery = Type.Object({ symbol: SymbolQuery, interval: Type.Optional(IntervalQuery) });
const ScoresQuery = Type.Object({
  symbol: SymbolQuery,
  horizon: Type.Integer({ minimum: 1, maximum: HORIZON_MAX, description: 'Horizon in steps of the interval (1 = next candle)' }),
  interval: Type.Optional(IntervalQuery),
  model: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Only this model or baseline (modelName, for example persistence, garch, lstm-attention)' }),
  ),
});
const ModelsQuery = Type.Object({});

function modelSchemas() {
  const info = {
    version: Type.String(),
    featureSetVersion: Type.String({ description: 'Feature-set version the model accepts' }),
    trainedFrom: Type.Integer({ description: 'Inclusive start of the training range (event time, epoch ms)' }),
    trainedTo: Type.Integer({ description: 'Exclusive end of the training range (event time, epoch ms)' }),
    metrics: Type.Record(Type.String(), Type.Number(), { description: 'Validation metrics by name' }),
    backend: Type.String({ description: 'tfjs backend used for training' }),
    codeVersion: Type.String(),
    createdAt: Type.Integer({ description: 'epoch ms' }),
    expiresAt: Type.Union([Type.Integer(), Type.Null()], { description: 'epoch ms from which predictors refuse the model; null: never' }),
  };
  const Champion = Type.Object(info, {
    description: 'The model the predictors serve (latest announcement on the models topic, else the store registry champion)',
  });
  const Version = Type.Object({
    ...info,
    champion: Type.Boolean({ description: 'This version is the champion' }),
    announced: Type.Boolean({ description: 'Seen on the models topic' }),
    inStore: Type.Boolean({ description: 'Found in the model store (when the gateway can read it)' }),
  });
  return Type.Object({ name: Type.String(), champion: Type.Union([Champion, Type.Null()]), versions: Type.Array(Version, { description: 'Oldest first' }) });
}

// ---------------------------------------------------------------------------------------------
// Replies

/** The answers every route shares: a refused query, and a source that failed. */
interface Replies {
  /** 400 when fastify found the query invalid, else the normalised symbol (400 when it is not one). */
  checked(req: FastifyRequest, reply: FastifyReply, symbol: string): string | null;
  /** A failed source: 503 when it may pass (Redis down), 500 for a defect (corrupt stored value). */
  failed(reply: FastifyReply, err: unknown, what: string): FastifyReply;
}

function createReplies(log: FastifyBaseLogger): Replies {
  return {
    checked(req, reply, symbol) {
      if (req.validationError) {
        void reply.code(400).send({ code: 'ERR_VALIDATION', message: validationMessage(req.validationError) } satisfies ErrorBody);
        return null;
      }
      const s = normaliseSymbol(symbol);
      if (s === null)
        void reply.code(400).send({ code: 'ERR_VALIDATION', message: 'symbol must be 2 to 20 letters or digits (for example BTCUSDT)' } satisfies ErrorBody);
      return s;
    },

    failed(reply, err, what) {
      // The project's own errors are logged whole, for their stack and cause: pino's serializer
      // keeps a cause's message and stack but none of its fields. Anything else by its message
      // only: a Redis client error carries the command, and with it the key, as a field (the
      // Redis sources wrap every one of those, sources.ts).
      const logged = isBitPredictError(err) ? err : errorMessage(err);
      const code = isBitPredictError(err) ? err.code : undefined;
      if (isBitPredictError(err) && !err.retryable) {
        log.error({ err: logged, code, what }, 'REST source returned an unusable value');
        return reply.code(500).send({ code: 'ERR_INTERNAL', message: `${what} could not be read` } satisfies ErrorBody);
      }
      log.warn({ err: logged, code, what }, 'REST source unavailable');
      return reply
        .code(503)
        .send({ code: 'ERR_UNAVAILABLE', message: `${what} is unavailable right now (the store did not answer); retry later` } satisfies ErrorBody);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Routes

/** What the route registrations share. */
interface RouteContext {
  deps: RestDeps;
  replies: Replies;
  /** The options of every /v1 route: scope, query errors answered by the route, no caching. */
  common: { config: { scope: 'read' }; attachValidation: true; onSend: (req: FastifyRequest, reply: FastifyReply) => Promise<void> };
  PredictionSchema: TSchema;
  FeatureSchema: TSchema;
  ScoreSchema: TSchema;
}

type RouteSchema = FastifySchema & { tags: string[]; summary: string; response: Record<number, unknown> };

/** A route's schema with the error answers every route may give. */
function schema(s: RouteSchema): FastifySchema {
  return { ...s, response: { ...errorResponses, ...s.response } };
}

function registerLatestPrediction(app: FastifyInstance, { deps, replies, common, PredictionSchema }: RouteContext): void {
  app.get<{ Querystring: Static<typeof LatestQuery> }>(
    '/v1/predictions/latest',
    {
      ...common,
      schema: schema({
        tags: ['predictions'],
        summary: 'The latest prediction of a symbol',
        description: 'The newest prediction of any interval, as published on the predictions topic.',
        querystring: LatestQuery,
        response: { 200: PredictionSchema },
      }),
    },
    async (req, reply) => {
      const symbol = replies.checked(req, reply, req.query.symbol);
      if (symbol === null) return reply;
      let p: Prediction | null;
      try {
        p = await deps.sources.latestPrediction(symbol);
      } catch (err) {
        return replies.failed(reply, err, 'the latest prediction');
      }
      if (p === null) return reply.code(404).send({ code: 'ERR_NOT_FOUND', message: `no prediction for ${symbol} yet` } satisfies ErrorBody);
      return reply.send(p);
    },
  );
}

function registerPredictionHistory(app: FastifyInstance, { deps, replies, common, PredictionSchema }: RouteContext): void {
  app.get<{ Querystring: Static<typeof HistoryQuery> }>(
    '/v1/predictions',
    {
      ...common,
      schema: schema({
        tags: ['predictions'],
        summary: 'Prediction history of a symbol',
        description: `Predictions with from <= eventTime < to, oldest first, at most \`limit\` (default ${HISTORY_LIMIT_DEFAULT}, max ${HISTORY_LIMIT_MAX}). With \`from\`: the first \`limit\` from it (page on with from = last eventTime + 1); without: the newest \`limit\` before \`to\`. The history keeps the newest BITPREDICT_GATEWAY_HISTORY_MAX predictions per symbol, all intervals together.`,
        querystring: HistoryQuery,
        response: {
          200: Type.Object({
            symbol: Type.String(),
            from: Type.Union([Type.Integer(), Type.Null()], { description: 'The lower bound used (epoch ms), null: none' }),
            to: Type.Union([Type.Integer(), Type.Null()], { description: 'The upper bound used (epoch ms, exclusive), null: none' }),
            count: Type.Integer(),
            predictions: Type.Array(PredictionSchema, { description: 'Oldest first' }),
          }),
        },
      }),
    },
    async (req, reply) => {
      const symbol = replies.checked(req, reply, req.query.symbol);
      if (symbol === null) return reply;
      const range = parseRange(req.query.from, req.query.to);
      if (!range.ok) return reply.code(400).send({ code: 'ERR_VALIDATION', message: range.message } satisfies ErrorBody);
      const limit = req.query.limit ?? HISTORY_LIMIT_DEFAULT;
      let predictions: Prediction[];
      try {
        predictions = await deps.sources.predictionHistory(symbol, range.from, range.to, limit);
      } catch (err) {
        return replies.failed(reply, err, 'the prediction history');
      }
      return reply.send({ symbol, from: range.from, to: range.to, count: predictions.length, predictions });
    },
  );
}

function registerLatestFeatures(app: FastifyInstance, { deps, replies, common, FeatureSchema }: RouteContext): void {
  app.get<{ Querystring: Static<typeof FeaturesQuery> }>(
    '/v1/features/latest',
    {
      ...common,
      schema: schema({
        tags: ['features'],
        summary: 'The latest feature vector of a symbol',
        description: `With \`interval\`: the latest FeatureVector of that series. Without: { symbol, features } with the latest vector of every interval that has one (${CANDIDATE_INTERVALS.join(', ')}). 404 when there is none.`,
        querystring: FeaturesQuery,
        response: {
          200: Type.Union([
            FeatureSchema,
            Type.Object({ symbol: Type.String(), features: Type.Array(FeatureSchema, { description: `In the order ${CANDIDATE_INTERVALS.join(', ')}` }) }),
          ]),
        },
      }),
    },
    async (req, reply) => {
      const symbol = replies.checked(req, reply, req.query.symbol);
      if (symbol === null) return reply;
      const interval = req.query.interval ?? null;
      let features: FeatureVector[];
      try {
        features = await deps.sources.latestFeatures(symbol, interval);
      } catch (err) {
        return replies.failed(reply, err, 'the latest features');
      }
      if (features.length === 0) {
        return reply
          .code(404)
          .send({ code: 'ERR_NOT_FOUND', message: `no feature vector for ${symbol}${interval === null ? '' : ` ${interval}`} yet` } satisfies ErrorBody);
      }
      return reply.send(interval === null ? { symbol, features } : features[0]);
    },
  );
}

/** What one series history route serves: its path, words, record schema and source. */
interface SeriesHistory<T> {
  path: '/v1/candles' | '/v1/features';
  tag: string;
  /** The records' name in the answer and in messages ("candles"). */
  field: 'candles' | 'features';
  /** The time the bounds apply to ("openTime"). */
  timeField: string;
  bound: string;
  itemSchema: TSchema;
  read(sources: RestDeps['sources'], symbol: string, interval: string, from: number | null, to: number | null, limit: number): Promise<T[]>;
}

/** GET /v1/candles and /v1/features: a series' stored history, oldest first (the dashboard's backfill). */
function registerSeriesHistory<T>(app: FastifyInstance, { deps, replies, common }: RouteContext, h: SeriesHistory<T>): void {
  app.get<{ Querystring: SeriesHistoryQuery }>(
    h.path,
    {
      ...common,
      schema: schema({
        tags: [h.tag],
        summary: `${h.field === 'candles' ? 'Closed candle' : 'Feature vector'} history of one series`,
        description: `${h.field === 'candles' ? 'Closed candles' : 'Feature vectors'} of a symbol's interval with from <= ${h.timeField} < to, oldest first, at most \`limit\` (default ${HISTORY_LIMIT_DEFAULT}, max ${HISTORY_LIMIT_MAX}). With \`from\`: the first \`limit\` from it (page on with from = the last ${h.timeField} + 1); without: the newest \`limit\` before \`to\`. The store keeps the newest ${h.bound} per series (written by the feature processor); an empty list when it holds none.`,
        querystring: seriesHistoryQuery(h.timeField, h.field),
        response: {
          200: Type.Object({
            symbol: Type.String(),
            interval: Type.String(),
            from: Type.Union([Type.Integer(), Type.Null()], { description: 'The lower bound used (epoch ms), null: none' }),
            to: Type.Union([Type.Integer(), Type.Null()], { description: 'The upper bound used (epoch ms, exclusive), null: none' }),
            count: Type.Integer(),
            [h.field]: Type.Array(h.itemSchema, { description: 'Oldest first' }),
          }),
        },
      }),
    },
    async (req, reply) => {
      const symbol = replies.checked(req, reply, req.query.symbol);
      if (symbol === null) return reply;
      const range = parseRange(req.query.from, req.query.to);
      if (!range.ok) return reply.code(400).send({ code: 'ERR_VALIDATION', message: range.message } satisfies ErrorBody);
      const { interval } = req.query;
      let items: T[];
      try {
        items = await h.read(deps.sources, symbol, interval, range.from, range.to, req.query.limit ?? HISTORY_LIMIT_DEFAULT);
      } catch (err) {
        return replies.failed(reply, err, `the ${h.field === 'candles' ? 'candle' : 'feature'} history`);
      }
      // Serialised here, not by the route's response schema: the items are the writers' own records
      // (checked when read), and fastify's schema serialiser takes 10x longer than JSON.stringify on
      // a page of 10,000 candles (about 150 ms against 12 ms), which is the dashboard's time to first chart.
      return reply
        .type('application/json; charset=utf-8')
        .send(JSON.stringify({ symbol, interval, from: range.from, to: range.to, count: items.length, [h.field]: items }));
    },
  );
}

function registerPredictionBoard(app: FastifyInstance, { deps, replies, common, PredictionSchema }: RouteContext): void {
  app.get<{ Querystring: Static<typeof LatestQuery> }>(
    '/v1/predictions/board',
    {
      ...common,
      schema: schema({
        tags: ['predictions'],
        summary: 'The latest prediction of every forecaster of a symbol',
        description:
          'The model beside every baseline (persistence, EWMA, HAR-RV, GARCH): the newest prediction of each forecaster and interval, ordered by interval, then model name. 404 when the predictor has written no board for the symbol.',
        querystring: LatestQuery,
        response: { 200: Type.Object({ symbol: Type.String(), predictions: Type.Array(PredictionSchema) }) },
      }),
    },
    async (req, reply) => {
      const symbol = replies.checked(req, reply, req.query.symbol);
      if (symbol === null) return reply;
      let predictions: Prediction[];
      try {
        predictions = await deps.sources.predictionBoard(symbol);
      } catch (err) {
        return replies.failed(reply, err, 'the prediction board');
      }
      if (predictions.length === 0)
        return reply.code(404).send({ code: 'ERR_NOT_FOUND', message: `no prediction board for ${symbol} yet` } satisfies ErrorBody);
      return reply.send({ symbol, predictions });
    },
  );
}

function registerScores(app: FastifyInstance, { deps, replies, common, ScoreSchema }: RouteContext): void {
  app.get<{ Querystring: Static<typeof ScoresQuery> }>(
    '/v1/scores',
    {
      ...common,
      schema: schema({
        tags: ['scores'],
        summary: 'Live skill of every forecaster at one horizon',
        description:
          "The latest live Score of every model and baseline of a symbol at `horizon` steps, one per rolling window (24 h, 7 d, 30 d of target time), as the trainer's monitor publishes them on the scores topic: pinball loss, QLIKE, squared error, Brier score, interval coverage, and the skill against persistence and the best baseline. Optionally only one interval or one model. 404 when there is none.",
        querystring: ScoresQuery,
        response: {
          200: Type.Object({
            symbol: Type.String(),
            horizon: Type.Integer(),
            scores: Type.Array(ScoreSchema, { description: 'By interval, model, then window' }),
          }),
        },
      }),
    },
    async (req, reply) => {
      const symbol = replies.checked(req, reply, req.query.symbol);
      if (symbol === null) return reply;
      const { horizon, interval, model } = req.query;
      let all: Score[];
      try {
        all = await deps.sources.latestScores(symbol);
      } catch (err) {
        return replies.failed(reply, err, 'the live scores');
      }
      const scores = all.filter(
        (s) => s.horizonSteps === horizon && (interval === undefined || s.interval === interval) && (model === undefined || s.modelName === model),
      );
      if (scores.length === 0) {
        const what = [interval, model].filter((x) => x !== undefined).join(' ');
        return reply
          .code(404)
          .send({ code: 'ERR_NOT_FOUND', message: `no live scores for ${symbol}${what ? ` ${what}` : ''} at horizon ${horizon} yet` } satisfies ErrorBody);
      }
      return reply.send({ symbol, horizon, scores });
    },
  );
}

function registerModels(app: FastifyInstance, { deps, replies, common }: RouteContext): void {
  app.get(
    '/v1/models',
    {
      ...common,
      schema: schema({
        tags: ['models'],
        summary: 'The model registry: champion, versions, metrics',
        description:
          'The champion is the latest announcement on the models topic (what the predictors serve), else the champion of the model store registry; versions are every version announced or in the store, oldest first.',
        querystring: ModelsQuery,
        response: { 200: modelSchemas() },
      }),
    },
    async (req, reply) => {
      if (req.validationError) return reply.code(400).send({ code: 'ERR_VALIDATION', message: validationMessage(req.validationError) } satisfies ErrorBody);
      let snap: ModelsSnapshot;
      try {
        snap = deps.models.snapshot();
      } catch (err) {
        return replies.failed(reply, err, 'the model registry');
      }
      return reply.send(snap);
    },
  );
}

/** Registers the /v1 REST routes on `app` (after @fastify/swagger, so they are documented). */
export async function registerRestRoutes(app: FastifyInstance, deps: RestDeps): Promise<void> {
  const log: FastifyBaseLogger = (deps.logger ?? app.log).child({ part: 'rest' });
  // Answers are live data: no cache may keep them (errors included).
  const noStore = async (_req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('cache-control', 'no-store');
  };
  const ctx: RouteContext = {
    deps,
    replies: createReplies(log),
    common: { config: { scope: 'read' as const }, attachValidation: true, onSend: noStore },
    PredictionSchema: recordSchema('predictions'),
    FeatureSchema: recordSchema('features'),
    ScoreSchema: recordSchema('scores'),
  };
  registerLatestPrediction(app, ctx);
  registerPredictionBoard(app, ctx);
  registerScores(app, ctx);
  registerPredictionHistory(app, ctx);
  registerLatestFeatures(app, ctx);
  registerSeriesHistory<Candle>(app, ctx, {
    path: '/v1/candles',
    tag: 'candles',
    field: 'candles',
    timeField: 'openTime',
    bound: 'BITPREDICT_FEATURES_CANDLE_HISTORY_MAX candles',
    itemSchema: recordSchema('candles'),
    read: (src, symbol, interval, from, to, limit) => src.candleHistory(symbol, interval, from, to, limit),
  });
  registerSeriesHistory<FeatureVector>(app, ctx, {
    path: '/v1/features',
    tag: 'features',
    field: 'features',
    timeField: 'eventTime',
    bound: 'BITPREDICT_FEATURES_HISTORY_MAX vectors',
    itemSchema: ctx.FeatureSchema,
    read: (src, symbol, interval, from, to, limit) => src.featureHistory(symbol, interval, from, to, limit),
  });
  registerModels(app, ctx);
}
