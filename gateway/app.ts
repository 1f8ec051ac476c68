// The gateway's HTTP + WebSocket app. buildApp never listens and connects to nothing: the service
// (gateway/service.ts) supplies the snapshot source, the auth guard, the REST routes and
// readiness, listens, and feeds values from Kafka into hub.publish. Tests drive it with inject()
// and loopback clients.
//
// Auth is one onRequest hook: every request's Host is checked (DNS rebinding), CORS preflights of
// the allowed origins are answered, then a route that declares `config.scope` needs a key with
// that scope (open mode: read without a key, from loopback only); the WebSocket route declares
// 'read', so a refused upgrade is a plain HTTP 401/403 before any WebSocket exists. Routes
// without a scope are public: /healthz, /readyz, /metrics (scraped from inside the cluster),
// /v1/openapi.json and the dashboard files. Last, the REST rate limit: a token bucket per API
// key, per client address for requests without one (429 with Retry-After); the ops routes are
// exempt (probes and scrapes), the WebSocket has its own connection caps (stream/route.ts).
//
// buildApp only puts the parts together: the WebSocket plugin, /ws and the shutdown order are in
// stream/route.ts, the dashboard files in dashboard.ts; the error replies, the auth hook, the
// OpenAPI document and the ops routes are the functions below.
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from '../core/logger.js';
import { counter, type Registry } from '../core/metrics.js';
import type { Config } from '../core/config.js';
import type { ErrorCode } from '../core/errors.js';
import type { Readiness } from '../core/service.js';
import { createHub, type ChannelKind, type Hub, type HubDeps } from './stream/hub.js';
import { refuseUpgrade, registerStreamRoute, type ConnectionCaps } from './stream/route.js';
import { createRateLimiter } from './rest/rate-limit.js';
import { loadPublic, registerDashboard, type StaticFile } from './dashboard.js';
import type { AuthGate } from './types.js';

export type { Hub } from './stream/hub.js';
export { WS_MAX_PAYLOAD } from './stream/route.js';

export interface GatewayDeps {
  logger: Logger;
  registry: Registry;
  /** Latest values of a channel for the subscribe snapshot. */
  snapshot(kind: ChannelKind, symbol: string): Promise<unknown[]>;
  readiness(): Readiness;
  auth: AuthGate;
  /** Registers the /v1 REST routes (after OpenAPI is set up, so they are documented). */
  routes?(app: FastifyInstance): Promise<void>;
  maxBufferedBytes: number;
  heartbeatMs?: number;
  idleTimeoutMs?: number;
  maxSubscriptions?: number;
  replayBuffer?: number;
  clientRate?: number;
  /** The channel cap, the idle time of a channel without members and the symbols always known. */
  channels?: Pick<HubDeps, 'maxChannels' | 'channelIdleMs' | 'symbols'>;
  /** How long app.close() waits for clients to answer the 1001 close before cutting them off. */
  closeGraceMs?: number;
  /** Folder of the dashboard files; defaults to gateway/public beside this module. */
  publicDir?: URL;
  /** REST rate limit, WebSocket connection caps, trusted proxies (httpLimitsOf); absent: none of them. */
  limits?: HttpLimits;
}

export interface HttpLimits extends ConnectionCaps {
  /** REST requests per second per API key (per address without one), burst of twice this; 0: no limit. */
  rate: number;
  /** Proxies whose X-Forwarded-For names the client (addresses or CIDRs, as fastify's trustProxy takes them). */
  trustedProxies: readonly string[];
}

/** The limits as configured (BITPREDICT_GATEWAY_HTTP_RATE, _MAX_CONNECTIONS_PER_*, _TRUSTED_PROXIES). */
export function httpLimitsOf(gw: Pick<Config['gateway'], 'httpRate' | 'maxConnectionsPerKey' | 'maxConnectionsPerAddress' | 'trustedProxies'>): HttpLimits {
  return { rate: gw.httpRate, perKey: gw.maxConnectionsPerKey, perAddress: gw.maxConnectionsPerAddress, trustedProxies: gw.trustedProxies };
}

type HttpErrorCode = ErrorCode;

interface ErrorBody {
  code: HttpErrorCode;
  message: string;
}

/** The fastify instance on the gateway's logger, without per-request log lines. */
function createFastify(log: Logger, trustedProxies: readonly string[]): FastifyInstance {
  // Typed as the base logger so the instance is the plain FastifyInstance callers expect.
  const fastifyLog: FastifyBaseLogger = log;
  return Fastify({
    loggerInstance: fastifyLog,
    // req.ip is the client's address only when a listed proxy says so; anyone else's
    // X-Forwarded-For is ignored (it would let a client pick its own rate-limit bucket).
    ...(trustedProxies.length > 0 ? { trustProxy: [...trustedProxies] } : {}),
    // One line per request would drown the log in scrapes and probes; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    // Router-level refusals (malformed URL, overlong path parameter) bypass setErrorHandler.
    frameworkErrors: (err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
      log.debug({ err }, 'request refused by the router');
      void reply.code(400).send({ code: 'ERR_VALIDATION', message: 'malformed or overlong URL' } satisfies ErrorBody);
    },
  });
}

/** Every error and unknown route is answered as { code, message } with the project's codes. */
function setErrorReplies(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      log.error({ err }, 'request failed');
      return reply.code(status).send({ code: 'ERR_INTERNAL', message: 'internal error' } satisfies ErrorBody);
    }
    // Framework errors (bad content type, body too large...) are all the client's fault; the
    // original FST_* code stays in the log, clients see the project's own code set.
    log.debug({ err }, 'request refused');
    return reply.code(status).send({ code: status === 404 ? 'ERR_NOT_FOUND' : 'ERR_VALIDATION', message: err.message } satisfies ErrorBody);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ code: 'ERR_NOT_FOUND', message: `no route for ${req.method} ${req.url.split('?')[0] ?? ''}` } satisfies ErrorBody),
  );
}

/** Access-Control-* for a configured origin; a preflight (OPTIONS with Access-Control-Request-Method) is answered here. */
function corsPreflight(req: FastifyRequest, reply: FastifyReply, auth: AuthGate): boolean {
  const origin = auth.corsOrigin(req.headers);
  if (origin === null) return false;
  reply.header('access-control-allow-origin', origin).header('vary', 'Origin').header('access-control-expose-headers', 'Retry-After, WWW-Authenticate');
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
  void reply
    .code(204)
    .header('access-control-allow-methods', 'GET, POST, DELETE')
    .header('access-control-allow-headers', 'Authorization, X-API-Key, Content-Type')
    .header('access-control-max-age', '600')
    .send();
  return true;
}

/** One hook for every request: Host, CORS, then auth for every route with a scope, the WebSocket upgrade included. */
function addAuthHook(app: FastifyInstance, auth: AuthGate, log: Logger): void {
  app.addHook('onRequest', async (req, reply) => {
    const upgrade = req.headers.upgrade !== undefined;
    const refuse = (status: number, body: ErrorBody): FastifyReply => {
      if (upgrade) refuseUpgrade(req, reply);
      return reply.code(status).send(body);
    };
    const badHost = auth.checkHost({ headers: req.headers, url: req.url });
    if (badHost) {
      log.info({ method: req.method, path: req.url.split('?')[0], host: req.headers.host, code: badHost.code }, 'request refused: Host not allowed');
      return refuse(badHost.status, { code: badHost.code, message: badHost.message });
    }
    if (corsPreflight(req, reply, auth)) return reply;
    const need = req.routeOptions.config.scope;
    if (!need) return;
    const outcome = await auth.check(
      { headers: req.headers, url: req.url, remoteAddress: req.socket.remoteAddress, upgrade: (req.raw as { upgrade?: boolean }).upgrade === true },
      need,
    );
    if (outcome.ok) {
      req.principal = outcome.principal;
      return;
    }
    log.info({ method: req.method, path: req.url.split('?')[0], status: outcome.status, code: outcome.code }, 'request refused by auth');
    if (outcome.status === 401) reply.header('www-authenticate', 'Bearer realm="bitpredict"');
    return refuse(outcome.status, { code: outcome.code, message: outcome.message });
  });
}

/**
 * The REST rate limit, after auth: per API key, per client address for requests without one.
 * The WebSocket upgrade (connection caps instead) and routes that say `rateLimit: false` (the
 * ops routes: probes and scrapes) are exempt.
 */
function addRateLimitHook(app: FastifyInstance, rate: number, registry: Registry, log: Logger): void {
  if (rate <= 0) return;
  const limiter = createRateLimiter({ rate, burst: rate * 2 });
  const limited = counter(
    registry,
    'bitpredict_gateway_http_rate_limited_total',
    'REST requests refused with 429 by the rate limit (BITPREDICT_GATEWAY_HTTP_RATE), by what was limited: an API key or a client address',
    ['by'],
  );
  app.addHook('onRequest', async (req, reply) => {
    if (req.headers.upgrade !== undefined || req.routeOptions.config.rateLimit === false) return;
    const keyId = req.principal?.keyId ?? null;
    const wait = limiter.take(keyId === null ? `addr:${req.ip}` : `key:${keyId}`, Date.now());
    if (wait === 0) return;
    const by = keyId === null ? 'address' : 'key';
    limited.inc({ by });
    log.debug({ keyId, address: req.ip, path: req.url.split('?')[0] }, 'request refused: rate limit');
    return reply
      .code(429)
      .header('retry-after', String(wait))
      .send({
        code: 'ERR_RATE_LIMITED',
        message: `more than ${rate} requests per second (burst ${rate * 2}) from this ${by === 'key' ? 'API key' : 'address'} (BITPREDICT_GATEWAY_HTTP_RATE); retry after ${wait} s`,
      } satisfies ErrorBody);
  });
}

/** @fastify/swagger with the document's info, tags and security; routes registered after it are documented. */
async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'BitPredict gateway API',
        version: '1.0.0',
        description:
          'Predictions, features, live scores and the model registry over REST. Live streams are on the WebSocket at /ws (docs/websocket.md, docs/asyncapi.yaml). Send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API key (bitpredict keys create)' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      tags: [
        { name: 'predictions', description: 'Live and recent predictions' },
        { name: 'features', description: 'The feature store' },
        { name: 'scores', description: 'Live skill of the model and the baselines' },
        { name: 'models', description: 'The model registry' },
        { name: 'keys', description: 'API key management (admin scope)' },
        { name: 'ops', description: 'Health, readiness, metrics' },
      ],
    },
    // Every route with a scope needs a key: say so in the document.
    transform: ({ schema, url, route }) => {
      const scope = (route.config as { scope?: string } | undefined)?.scope;
      const out = { ...(schema as Record<string, unknown>) };
      if (scope) out.security = [{ bearer: [] }, { apiKey: [] }];
      if (url === '/ws') out.hide = true;
      return { schema: out, url };
    },
  });
}

/** /healthz, /readyz and /metrics: public, for probes and the scraper inside the cluster. */
function registerOpsRoutes(app: FastifyInstance, deps: Pick<GatewayDeps, 'readiness' | 'registry'>, log: Logger): void {
  const opsSchema = (summary: string) => ({ schema: { tags: ['ops'], summary }, config: { rateLimit: false } });
  app.get('/healthz', opsSchema('Liveness: the process serves HTTP'), () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    opsSchema(
      'Readiness: Kafka consumer joined, Redis answering; 503 with the failing checks otherwise; degraded service (no champion model) listed in warnings',
    ),
    (_req, reply) => {
      let state: Readiness;
      try {
        state = deps.readiness();
      } catch (err) {
        log.error({ err }, 'readiness check threw');
        state = { ready: false, checks: { readiness: 'error' } };
      }
      return reply.code(state.ready ? 200 : 503).send({ status: state.ready ? 'ready' : 'not_ready', checks: state.checks, warnings: state.warnings ?? [] });
    },
  );

  app.get('/metrics', opsSchema('Prometheus metrics'), async (_req, reply) => {
    const body = await deps.registry.metrics();
    return reply.header('content-type', deps.registry.contentType).send(body);
  });
}

function hubOf(deps: GatewayDeps, log: Logger): Hub {
  return createHub({
    logger: log,
    registry: deps.registry,
    snapshot: (kind, symbol) => deps.snapshot(kind, symbol),
    maxBufferedBytes: deps.maxBufferedBytes,
    ...(deps.heartbeatMs === undefined ? {} : { heartbeatMs: deps.heartbeatMs }),
    ...(deps.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: deps.idleTimeoutMs }),
    ...(deps.maxSubscriptions === undefined ? {} : { maxSubscriptions: deps.maxSubscriptions }),
    ...(deps.replayBuffer === undefined ? {} : { replayBuffer: deps.replayBuffer }),
    ...(deps.clientRate === undefined ? {} : { clientRate: deps.clientRate }),
    ...deps.channels,
  });
}

export async function buildApp(deps: GatewayDeps): Promise<{ app: FastifyInstance; hub: Hub }> {
  const log = deps.logger;
  const publicDir = deps.publicDir ?? new URL('./public/', import.meta.url);
  const files = await loadPublic(publicDir, log).catch((err: unknown) => {
    log.warn({ err, dir: fileURLToPath(publicDir) }, 'dashboard files not readable; serving none');
    return [] as StaticFile[];
  });
  const hub = hubOf(deps, log);
  const app = createFastify(log, deps.limits?.trustedProxies ?? []);

  // swagger has to be registered before the routes it documents (the REST routes included).
  setErrorReplies(app, log);
  addAuthHook(app, deps.auth, log);
  addRateLimitHook(app, deps.limits?.rate ?? 0, deps.registry, log);
  await registerOpenApi(app);
  await registerStreamRoute(app, {
    hub,
    log,
    registry: deps.registry,
    closeGraceMs: deps.closeGraceMs ?? 2000,
    ...(deps.limits ? { caps: { perKey: deps.limits.perKey, perAddress: deps.limits.perAddress } } : {}),
  });
  registerOpsRoutes(app, deps, log);
  if (deps.routes) await deps.routes(app);
  app.get('/v1/openapi.json', { schema: { hide: true } }, (_req, reply) => reply.header('cache-control', 'no-cache').send(app.swagger()));
  registerDashboard(app, files);

  return { app, hub };
}
