// The gateway's HTTP + WebSocket app. buildApp never listens and connects to nothing: the service
// (gateway/service.ts) supplies the snapshot source, the auth guard, the REST routes and
// readiness, listens, and feeds values from Kafka into hub.publish. Tests drive it with inject()
// and loopback clients.
//
// Auth is one onRequest hook: a route that declares `config.scope` needs a key with that scope
// (or open mode); the WebSocket route declares 'read', so a refused upgrade is a plain HTTP
// 401/403 before any WebSocket exists. Routes without a scope are public: /healthz, /readyz,
// /metrics (scraped from inside the cluster), /v1/openapi.json and the dashboard files.
//
// buildApp only puts the parts together: the WebSocket plugin, /ws and the shutdown order are in
// stream/route.ts, the dashboard files in dashboard.ts; the error replies, the auth hook, the
// OpenAPI document and the ops routes are the functions below.
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/metrics.js';
import type { ErrorCode } from '../core/errors.js';
import type { Readiness } from '../core/service.js';
import { createHub, type ChannelKind, type Hub, type HubDeps } from './stream/hub.js';
import { registerStreamRoute } from './stream/route.js';
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
}

type HttpErrorCode = ErrorCode;

interface ErrorBody {
  code: HttpErrorCode;
  message: string;
}

/** The fastify instance on the gateway's logger, without per-request log lines. */
function createFastify(log: Logger): FastifyInstance {
  // Typed as the base logger so the instance is the plain FastifyInstance callers expect.
  const fastifyLog: FastifyBaseLogger = log;
  return Fastify({
    loggerInstance: fastifyLog,
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

/** One hook for every route with a scope, the WebSocket upgrade included. */
function addAuthHook(app: FastifyInstance, auth: AuthGate, log: Logger): void {
  app.addHook('onRequest', async (req, reply) => {
    const need = req.routeOptions.config.scope;
    if (!need) return;
    const outcome = await auth.check({ headers: req.headers, url: req.url }, need);
    if (outcome.ok) {
      req.principal = outcome.principal;
      return;
    }
    log.info({ method: req.method, path: req.url.split('?')[0], status: outcome.status, code: outcome.code }, 'request refused by auth');
    if (outcome.status === 401) reply.header('www-authenticate', 'Bearer realm="bitpredict"');
    if (req.headers.upgrade !== undefined) {
      // A refused upgrade: the socket was taken out of the HTTP server's keep-alive handling and
      // nothing reads it any more, so the server would never notice the client hanging up and
      // close() would wait on it forever. Answer, then close it.
      reply.header('connection', 'close');
      reply.raw.once('finish', () => req.raw.socket.destroy());
    }
    return reply.code(outcome.status).send({ code: outcome.code, message: outcome.message } satisfies ErrorBody);
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
  const opsSchema = (summary: string) => ({ schema: { tags: ['ops'], summary } });
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
  const app = createFastify(log);

  // swagger has to be registered before the routes it documents (the REST routes included).
  setErrorReplies(app, log);
  addAuthHook(app, deps.auth, log);
  await registerOpenApi(app);
  await registerStreamRoute(app, { hub, log, closeGraceMs: deps.closeGraceMs ?? 2000 });
  registerOpsRoutes(app, deps, log);
  if (deps.routes) await deps.routes(app);
  app.get('/v1/openapi.json', { schema: { hide: true } }, (_req, reply) => reply.header('cache-control', 'no-cache').send(app.swagger()));
  registerDashboard(app, files);

  return { app, hub };
}
