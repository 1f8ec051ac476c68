// The gateway's HTTP + WebSocket app. buildApp never listens and connects to nothing: the service
// (gateway/service.ts) supplies the snapshot source, the auth guard, the REST routes and
// readiness, listens, and feeds values from Kafka into hub.publish. Tests drive it with inject()
// and loopback clients.
//
// Auth is one onRequest hook: a route that declares `config.scope` needs a key with that scope
// (or open mode); the WebSocket route declares 'read', so a refused upgrade is a plain HTTP
// 401/403 before any WebSocket exists. Routes without a scope are public: /healthz, /readyz,
// /metrics (scraped from inside the cluster), /v1/openapi.json and the dashboard files.
import { readdir, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import type { WebSocket } from 'ws';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { ErrorCode } from '../core/errors.js';
import { createHub, CloseCodes, type ChannelKind, type Hub, type HubConnection, type HubSocket } from './stream/hub.js';
import type { AuthGate } from './types.js';

export type { Hub } from './stream/hub.js';

export interface GatewayDeps {
  logger: Logger;
  registry: Registry;
  /** Latest values of a channel for the subscribe snapshot. */
  snapshot(kind: ChannelKind, symbol: string): Promise<unknown[]>;
  readiness(): { ready: boolean; checks: Record<string, string> };
  auth: AuthGate;
  /** Registers the /v1 REST routes (after OpenAPI is set up, so they are documented). */
  routes?(app: FastifyInstance): Promise<void>;
  maxBufferedBytes: number;
  heartbeatMs?: number;
  idleTimeoutMs?: number;
  maxSubscriptions?: number;
  replayBuffer?: number;
  clientRate?: number;
  /** How long app.close() waits for clients to answer the 1001 close before cutting them off. */
  closeGraceMs?: number;
  /** Folder of the dashboard files; defaults to gateway/public beside this module. */
  publicDir?: URL;
}

/** 64 KiB: far above any protocol message, low enough that one frame cannot eat memory. */
export const WS_MAX_PAYLOAD = 64 * 1024;

type HttpErrorCode = ErrorCode;

interface ErrorBody { code: HttpErrorCode; message: string }

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

// The dashboard loads nothing from elsewhere (the machines are offline) and runs no inline script.
const DASHBOARD_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

interface StaticFile { name: string; body: Buffer; type: string }

async function loadPublic(dir: URL): Promise<StaticFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: StaticFile[] = [];
  for (const e of entries) {
    const type = CONTENT_TYPES[extname(e.name).toLowerCase()];
    if (!e.isFile() || !type || e.name.startsWith('.')) continue;
    files.push({ name: e.name, body: await readFile(new URL(e.name, dir)), type });
  }
  return files;
}

/**
 * The hub's view of a ws socket, with the underlying TCP socket's cork/uncork so the hub can
 * coalesce one turn's writes to a client into one system call (ws exposes no cork of its own).
 * A class, so that each connection costs two fields and no closures.
 */
class WsHubSocket implements HubSocket {
  constructor(private readonly ws: WebSocket, private readonly raw: { cork(): void; uncork(): void }) {}
  get readyState(): number { return this.ws.readyState; }
  get bufferedAmount(): number { return this.ws.bufferedAmount; }
  send(data: Buffer, options: { binary: boolean }): void { this.ws.send(data, options); }
  ping(): void { this.ws.ping(); }
  close(code: number, reason: string): void { this.ws.close(code, reason); }
  terminate(): void { this.ws.terminate(); }
  cork(): void { this.raw.cork(); }
  uncork(): void { this.raw.uncork(); }
}

function hubSocketOf(ws: WebSocket): HubSocket {
  const raw = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  return raw ? new WsHubSocket(ws, raw) : ws;
}

function waitForClose(socket: WebSocket): Promise<void> {
  if (socket.readyState === socket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

export async function buildApp(deps: GatewayDeps): Promise<{ app: FastifyInstance; hub: Hub }> {
  const log = deps.logger.child({ component: 'gateway' });
  const publicDir = deps.publicDir ?? new URL('./public/', import.meta.url);
  const files = await loadPublic(publicDir).catch((err: unknown) => {
    log.warn({ err, dir: fileURLToPath(publicDir) }, 'dashboard files not readable; serving none');
    return [] as StaticFile[];
  });
  const hub = createHub({
    logger: log, registry: deps.registry, snapshot: (kind, symbol) => deps.snapshot(kind, symbol), maxBufferedBytes: deps.maxBufferedBytes,
    ...(deps.heartbeatMs === undefined ? {} : { heartbeatMs: deps.heartbeatMs }),
    ...(deps.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: deps.idleTimeoutMs }),
    ...(deps.maxSubscriptions === undefined ? {} : { maxSubscriptions: deps.maxSubscriptions }),
    ...(deps.replayBuffer === undefined ? {} : { replayBuffer: deps.replayBuffer }),
    ...(deps.clientRate === undefined ? {} : { clientRate: deps.clientRate }),
  });
  const closeGraceMs = deps.closeGraceMs ?? 2000;
  const connections = new WeakMap<WebSocket, HubConnection>();

  // Typed as the base logger so the instance is the plain FastifyInstance callers expect.
  const fastifyLog: FastifyBaseLogger = log;
  const app = Fastify({
    loggerInstance: fastifyLog,
    // One line per request would drown the log in scrapes and probes; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    // Router-level refusals (malformed URL, overlong path parameter) bypass setErrorHandler.
    frameworkErrors: (err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
      log.debug({ err }, 'request refused by the router');
      void reply.code(400).send({ code: 'ERR_VALIDATION', message: 'malformed or overlong URL' } satisfies ErrorBody);
    },
  });

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
    reply.code(404).send({ code: 'ERR_NOT_FOUND', message: `no route for ${req.method} ${req.url.split('?')[0] ?? ''}` } satisfies ErrorBody));

  // One hook for every route with a scope, the WebSocket upgrade included.
  app.addHook('onRequest', async (req, reply) => {
    const need = req.routeOptions.config.scope;
    if (!need) return;
    const outcome = await deps.auth.check({ headers: req.headers, url: req.url }, need);
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

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'BitPredict gateway API',
        version: '1.0.0',
        description: 'Predictions, features and the model registry over REST. Live streams are on the WebSocket at /ws (docs/websocket.md, docs/asyncapi.yaml). Send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".',
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

  await app.register(websocket, {
    options: { maxPayload: WS_MAX_PAYLOAD, perMessageDeflate: false },
    // Socket errors (oversized frame, reset) and handler failures; the hub decides what to close.
    errorHandler(err, socket) {
      const conn = connections.get(socket);
      if (conn) conn.error(err);
      else {
        log.warn({ err }, 'WebSocket error before the hub took the socket');
        socket.terminate();
      }
    },
    // Shutdown order: every client gets 1001 first, then a grace period for the close handshake,
    // then stragglers are cut off so that closing the HTTP server never waits on a dead peer.
    preClose: async () => {
      hub.close();
      const wss = app.websocketServer;
      for (const socket of wss.clients) {
        if (socket.readyState === socket.OPEN) socket.close(CloseCodes.GOING_AWAY, 'server shutting down');
      }
      const pending = [...wss.clients].map(waitForClose);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(pending),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, closeGraceMs); }),
      ]);
      clearTimeout(timer);
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  });

  app.get('/ws', { websocket: true, config: { scope: 'read' } }, (socket, req) => {
    const conn = hub.connect(hubSocketOf(socket), req.principal ? { keyId: req.principal.keyId, name: req.principal.name } : undefined);
    connections.set(socket, conn);
    socket.on('message', (data, isBinary) => conn.receive(data, isBinary));
    socket.on('pong', () => conn.pong());
    socket.on('close', () => conn.closed());
  });

  const opsSchema = (summary: string) => ({ schema: { tags: ['ops'], summary } });
  app.get('/healthz', opsSchema('Liveness: the process serves HTTP'), () => ({ status: 'ok' }));

  app.get('/readyz', opsSchema('Readiness: Kafka consumer joined, Redis answering, a model known; 503 with the failing checks otherwise'), (_req, reply) => {
    let state: { ready: boolean; checks: Record<string, string> };
    try {
      state = deps.readiness();
    } catch (err) {
      log.error({ err }, 'readiness check threw');
      state = { ready: false, checks: { readiness: 'error' } };
    }
    return reply.code(state.ready ? 200 : 503).send({ status: state.ready ? 'ready' : 'not_ready', checks: state.checks });
  });

  app.get('/metrics', opsSchema('Prometheus metrics'), async (_req, reply) => {
    const body = await deps.registry.metrics();
    return reply.header('content-type', deps.registry.contentType).send(body);
  });

  if (deps.routes) await deps.routes(app);

  app.get('/v1/openapi.json', { schema: { hide: true } }, (_req, reply) => reply.header('cache-control', 'no-cache').send(app.swagger()));

  for (const f of files) {
    const paths = f.name === 'index.html' ? ['/', '/index.html'] : [`/${f.name}`];
    for (const path of paths) {
      app.get(path, { schema: { hide: true } }, (_req, reply) => {
        reply.header('content-type', f.type).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache');
        if (f.type.startsWith('text/html')) reply.header('content-security-policy', DASHBOARD_CSP);
        return reply.send(f.body);
      });
    }
  }

  return { app, hub };
}
