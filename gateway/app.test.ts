import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../core/logger.js';
import type { Prediction } from '../schemas/types.js';
import { buildApp, WS_MAX_PAYLOAD, type GatewayDeps, type Hub } from './app.js';
import type { AuthGate, AuthOutcome, Scope } from './types.js';

const logger = createLogger({ level: 'silent' });

const allowAll: AuthGate = {
  check: () => Promise.resolve({ ok: true, principal: { keyId: null, scope: 'admin', name: 'test' } }),
  checkHost: () => null,
  corsOrigin: () => null,
};

function prediction(over: Partial<Prediction> = {}): Prediction {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime: 1_735_689_600_000,
    targetTime: 1_735_693_200_000,
    horizonSteps: 1,
    predictedLogReturn: -0.0008,
    predictedPrice: 93_950.25,
    probUp: 0.47,
    modelName: 'persistence',
    modelVersion: '1',
    isBaseline: true,
    featureSetVersion: 'fs1',
    candleIngestedAt: 1_735_693_200_100,
    featuresComputedAt: 1_735_693_200_150,
    predictedAt: 1_735_693_200_200,
    quantileLevels: [],
    horizons: [],
    ...over,
  };
}

type Msg = Record<string, unknown>;

/** A real ws client that queues what it receives; next() rejects if the socket closes first. */
class TestClient {
  private readonly inbox: Msg[] = [];
  private waiter: { resolve(m: Msg): void; reject(e: Error): void } | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const msg = JSON.parse(data.toString('utf8')) as Msg;
      msg.__binary = isBinary;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w.resolve(msg);
      } else this.inbox.push(msg);
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.waiter?.reject(new Error(`socket closed (${code}) while waiting for a message`));
        this.waiter = null;
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('error', () => undefined);
  }

  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    const client = new TestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  next(): Promise<Msg> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('socket not open'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Round trip: everything the server sent before answering this ping arrives before the pong. */
  async sync(id: string): Promise<Msg[]> {
    this.send({ op: 'ping', id });
    const seen: Msg[] = [];
    for (;;) {
      const m = await this.next();
      if (m.type === 'pong' && m.id === id) return seen;
      seen.push(m);
    }
  }

  async subscribe(symbol: string): Promise<Msg> {
    this.send({ op: 'subscribe', channel: `predictions:${symbol}` });
    const m = await this.next();
    expect(m).toMatchObject({ type: 'subscribed', channel: `predictions:${symbol.toUpperCase()}` });
    return m;
  }
}

interface Started {
  app: FastifyInstance;
  hub: Hub;
  registry: Registry;
  url: string;
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function build(over: Partial<GatewayDeps> = {}): Promise<{ app: FastifyInstance; hub: Hub; registry: Registry }> {
  const registry = new Registry();
  const { app, hub } = await buildApp({
    logger,
    registry,
    maxBufferedBytes: 1024 * 1024,
    closeGraceMs: 500,
    clientRate: 1000,
    snapshot: () => Promise.resolve([]),
    auth: allowAll,
    readiness: () => ({ ready: true, checks: { kafka: 'ok', redis: 'ok' } }),
    ...over,
  });
  apps.push(app);
  return { app, hub, registry };
}

async function start(over: Partial<GatewayDeps> = {}): Promise<Started> {
  const built = await build(over);
  const address = await built.app.listen({ port: 0, host: '127.0.0.1' });
  return { ...built, url: `${address.replace('http', 'ws')}/ws` };
}

async function hello(url: string, options?: WebSocket.ClientOptions): Promise<TestClient> {
  const c = await TestClient.open(url, options);
  expect(await c.next()).toMatchObject({ type: 'hello', protocol: 2 });
  return c;
}

describe('HTTP routes', () => {
  it('GET /healthz answers 200 ok', async () => {
    const { app } = await build({ readiness: () => ({ ready: false, checks: { kafka: 'down' } }) });
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 with the checks when ready', async () => {
    const { app } = await build();
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { kafka: 'ok', redis: 'ok' }, warnings: [] });
  });

  it('GET /readyz answers 200 and lists the warnings of a degraded but serving gateway', async () => {
    const { app } = await build({ readiness: () => ({ ready: true, checks: { kafka: 'ok' }, warnings: ['no champion'] }) });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { kafka: 'ok' }, warnings: ['no champion'] });
  });

  it('GET /readyz answers 503 with the checks when not ready', async () => {
    const { app } = await build({ readiness: () => ({ ready: false, checks: { kafka: 'ok', redis: 'connecting' } }) });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'not_ready', checks: { kafka: 'ok', redis: 'connecting' }, warnings: [] });
  });

  it('GET /readyz answers 503 when the readiness check itself throws', async () => {
    const { app } = await build({
      readiness: () => {
        throw new Error('boom');
      },
    });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'not_ready' });
  });

  it('GET /metrics exposes every gateway metric from the registry it was given', async () => {
    const { app, registry } = await build();
    registry.registerMetric(new (await import('prom-client')).Counter({ name: 'bitpredict_test_marker_total', help: 'marker', registers: [] }));
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(registry.contentType);
    for (const name of [
      'bitpredict_gateway_ws_clients',
      'bitpredict_gateway_ws_messages_sent_total',
      'bitpredict_gateway_ws_server_closes_total',
      'bitpredict_gateway_ws_protocol_errors_total',
      'bitpredict_gateway_published_total',
      'bitpredict_gateway_ws_subscriptions',
      'bitpredict_gateway_ws_resumes_total',
      'bitpredict_gateway_ws_channels',
      'bitpredict_test_marker_total',
    ]) {
      expect(res.body).toContain(`# TYPE ${name} `);
    }
  });

  it('answers an unknown route with 404 JSON', async () => {
    const { app } = await build();
    const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'ERR_NOT_FOUND', message: 'no route for GET /nope' });
  });

  it('answers a malformed body, an overlong URL and a malformed URL with 400 JSON', async () => {
    const { app } = await build({
      routes: async (a) => {
        a.post('/v1/echo/:symbol', (req) => req.body);
        a.get('/v1/echo/:symbol', (req) => req.params);
        await Promise.resolve();
      },
    });
    const post = await app.inject({ method: 'POST', url: '/v1/echo/BTCUSDT', headers: { 'content-type': 'application/json' }, payload: '{"truncated' });
    expect(post.statusCode).toBe(400);
    expect(post.json()).toEqual({ code: 'ERR_VALIDATION', message: expect.any(String) as string });
    const long = await app.inject({ method: 'GET', url: `/v1/echo/${'A'.repeat(5000)}` });
    expect(long.statusCode).toBe(400);
    expect(long.json()).toEqual({ code: 'ERR_VALIDATION', message: 'malformed or overlong URL' });
    const badUrl = await app.inject({ method: 'GET', url: '/v1/echo/%E0%A4%A' });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.json()).toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('serves the dashboard and every asset it references, with a strict CSP', async () => {
    const { app } = await build();
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toContain('unsafe');
    expect(res.body).toContain('id="chart"');
    const refs = [...res.body.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1] ?? '');
    expect(refs).toEqual(expect.arrayContaining(['/style.css', '/build/app.js']));
    for (const ref of refs) {
      const asset = await app.inject({ method: 'GET', url: ref });
      expect(asset.statusCode, ref).toBe(200);
      expect(asset.body.length, ref).toBeGreaterThan(0);
    }
    // The page's bundle (built from gateway/web when missing or stale), gzipped for browsers that take it.
    const js = await app.inject({ method: 'GET', url: '/build/app.js' });
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toContain('/ws');
    expect(js.body).toContain('TradingView');
    const gz = await app.inject({ method: 'GET', url: '/build/app.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.rawPayload.length).toBeLessThan(js.rawPayload.length / 2);
    const again = await app.inject({ method: 'GET', url: '/build/app.js', headers: { 'if-none-match': js.headers.etag as string } });
    expect(again.statusCode).toBe(304);
  });

  it('still builds, without a dashboard, when the public folder is missing', async () => {
    const { app } = await build({ publicDir: new URL('./no-such-folder/', import.meta.url) });
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

/** A gate that knows two keys: "r" (read) and "a" (admin), from X-API-Key. */
const twoKeys: AuthGate = {
  checkHost: () => null,
  corsOrigin: () => null,
  check(req, need: Scope): Promise<AuthOutcome> {
    const key = req.headers['x-api-key'] as string | undefined;
    if (key === undefined) return Promise.resolve({ ok: false, status: 401, code: 'ERR_UNAUTHENTICATED', message: 'API key required' });
    const scope: Scope | null = key === 'a' ? 'admin' : key === 'r' ? 'read' : null;
    if (!scope) return Promise.resolve({ ok: false, status: 401, code: 'ERR_UNAUTHENTICATED', message: 'unknown API key' });
    if (need === 'admin' && scope !== 'admin') return Promise.resolve({ ok: false, status: 403, code: 'ERR_FORBIDDEN', message: 'admin scope needed' });
    return Promise.resolve({ ok: true, principal: { keyId: key, scope, name: key } });
  },
};

describe('auth hook', () => {
  async function withRoutes(): Promise<FastifyInstance> {
    const { app } = await build({
      auth: twoKeys,
      routes: async (a) => {
        a.get('/v1/read', { config: { scope: 'read' } }, (req) => ({ principal: req.principal }));
        a.get('/v1/admin', { config: { scope: 'admin' } }, () => ({ ok: true }));
        await Promise.resolve();
      },
    });
    return app;
  }

  it('answers 401 with WWW-Authenticate without a key, 403 for a read key on an admin route, 200 otherwise', async () => {
    const app = await withRoutes();
    const none = await app.inject({ method: 'GET', url: '/v1/read' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
    expect(none.json()).toEqual({ code: 'ERR_UNAUTHENTICATED', message: 'API key required' });
    expect((await app.inject({ method: 'GET', url: '/v1/read', headers: { 'x-api-key': 'zz' } })).statusCode).toBe(401);
    const forbidden = await app.inject({ method: 'GET', url: '/v1/admin', headers: { 'x-api-key': 'r' } });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ code: 'ERR_FORBIDDEN' });
    const ok = await app.inject({ method: 'GET', url: '/v1/read', headers: { 'x-api-key': 'r' } });
    expect(ok.json()).toEqual({ principal: { keyId: 'r', scope: 'read', name: 'r' } });
    expect((await app.inject({ method: 'GET', url: '/v1/admin', headers: { 'x-api-key': 'a' } })).statusCode).toBe(200);
  });

  it('leaves health, metrics, the OpenAPI document and the dashboard public', async () => {
    const app = await withRoutes();
    for (const url of ['/healthz', '/readyz', '/metrics', '/v1/openapi.json', '/']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });

  it('serves an OpenAPI 3.1 document listing the routes, with security on the ones that need a key', async () => {
    const app = await withRoutes();
    const doc = (await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json<{
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    }>();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/v1/read']?.get?.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(doc.paths['/healthz']?.get?.security).toBeUndefined();
    expect(doc.paths['/ws']).toBeUndefined();
  });

  it('refuses a WebSocket upgrade without a valid key with a plain HTTP 401, before any WebSocket exists', async () => {
    const { url, hub } = await start({ auth: twoKeys });
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      ws.on('open', () => reject(new Error('upgrade accepted without a key')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(401);
    expect(hub.clientCount()).toBe(0);
    const c = await hello(url, { headers: { 'x-api-key': 'r' } });
    expect(hub.keyIds()).toEqual(['r']);
    c.ws.close();
  });
});

describe('WebSocket /ws', () => {
  it('greets, subscribes with a snapshot, and delivers only the subscribed symbol', async () => {
    const snap = prediction({ eventTime: 1 });
    const { hub, url } = await start({ snapshot: (_k, s) => Promise.resolve(s === 'BTCUSDT' ? [snap] : []) });
    const btc = await hello(url);
    const eth = await hello(url);
    const idle = await hello(url);
    expect((await btc.subscribe('btcusdt')).snapshot).toEqual([snap]);
    expect((await eth.subscribe('ETHUSDT')).snapshot).toEqual([]);

    const p = prediction({ eventTime: 2 });
    hub.publish('predictions', p);
    expect(await btc.next()).toEqual({ type: 'prediction', channel: 'predictions:BTCUSDT', seq: 1, data: p, __binary: false });
    expect(await eth.sync('e1')).toEqual([]);
    expect(await idle.sync('i1')).toEqual([]);

    const q = prediction({ symbol: 'ETHUSDT', eventTime: 3 });
    hub.publish('predictions', q);
    expect(await eth.next()).toMatchObject({ type: 'prediction', channel: 'predictions:ETHUSDT', data: q });
    expect(await btc.sync('b1')).toEqual([]);
  });

  it('stops delivery after unsubscribe', async () => {
    const { hub, url } = await start();
    const c = await hello(url);
    await c.subscribe('BTCUSDT');
    c.send({ op: 'unsubscribe', channel: 'predictions:BTCUSDT', id: 9 });
    expect(await c.next()).toMatchObject({ type: 'unsubscribed', channel: 'predictions:BTCUSDT', id: 9 });
    hub.publish('predictions', prediction());
    expect(await c.sync('after')).toEqual([]);
  });

  it('answers each kind of bad input with an error and keeps the connection open', async () => {
    const { url, registry } = await start();
    const c = await hello(url);
    const bad: (string | Buffer)[] = [
      'not json',
      '{"op":"subscribe","channel":',
      '[1,2,3]',
      'null',
      '42',
      '{"op":"dance"}',
      '{}',
      '{"op":"subscribe","channel":"predictions:$"}',
      '{"op":"subscribe","channel":"ticker:BTCUSDT"}',
      '{"op":"subscribe","channel":"predictions:AAAAAAAAAAAAAAAAAAAAA"}',
      '{"op":"ping","id":[1]}',
    ];
    for (const b of bad) {
      c.send(b);
      const m = await c.next();
      expect(m, String(b)).toMatchObject({ type: 'error', code: 'ERR_WS_PROTOCOL', message: expect.any(String) as string });
    }
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await c.next()).toMatchObject({ type: 'error', code: 'ERR_WS_PROTOCOL', message: expect.stringContaining('binary') as string });
    expect(await c.sync('still-open')).toEqual([]);
    const body = await registry.metrics();
    expect(body).toMatch(/bitpredict_gateway_ws_protocol_errors_total\{reason="binary"\} 1/);
  });

  it('refuses a 51st subscription with an error and keeps the first 50', async () => {
    const { url } = await start();
    const c = await hello(url);
    for (let i = 0; i < 50; i++) c.send({ op: 'subscribe', channel: `predictions:S${i}` });
    for (let i = 0; i < 50; i++) expect(await c.next()).toMatchObject({ type: 'subscribed', channel: `predictions:S${i}` });
    c.send({ op: 'subscribe', channel: 'predictions:S50', id: 'over' });
    expect(await c.next()).toMatchObject({ type: 'error', code: 'ERR_WS_PROTOCOL', id: 'over' });
    expect(await c.sync('ok')).toEqual([]);
  });

  it('closes the connection with 1009 when a frame exceeds 64 KiB', async () => {
    const { url, hub, registry } = await start();
    const c = await hello(url);
    c.send(JSON.stringify({ op: 'ping', pad: 'x'.repeat(WS_MAX_PAYLOAD) }));
    const { code } = await c.closed;
    expect(code).toBe(1009);
    expect(hub.clientCount()).toBe(0);
    expect(await registry.metrics()).toMatch(/bitpredict_gateway_ws_protocol_errors_total\{reason="too_large"\} 1/);
  });

  it('accepts a frame just under the limit', async () => {
    const { url } = await start();
    const c = await hello(url);
    const base = JSON.stringify({ op: 'ping', id: 'big', pad: '' });
    c.send(JSON.stringify({ op: 'ping', id: 'big', pad: 'x'.repeat(WS_MAX_PAYLOAD - base.length) }));
    expect(await c.next()).toMatchObject({ type: 'pong', id: 'big' });
  });

  it('closes a client that stops reading with 4008 while a reading client keeps receiving', async () => {
    const { url, hub, registry } = await start({ maxBufferedBytes: 16 * 1024 });
    const fast = await hello(url);
    const slow = await hello(url);
    await fast.subscribe('BTCUSDT');
    await slow.subscribe('BTCUSDT');
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    const pad = 'p'.repeat(16 * 1024);
    let sent = 0;
    // Bounded: loopback socket buffers hold some megabytes; 10 000 x 16 KiB is far beyond them.
    while (hub.clientCount() === 2 && sent < 10_000) {
      hub.publish('predictions', prediction({ eventTime: sent, modelVersion: pad }));
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(hub.clientCount()).toBe(1);
    expect(await registry.metrics()).toMatch(/bitpredict_gateway_ws_server_closes_total\{reason="too_slow"\} 1/);

    const marker = prediction({ eventTime: -1 });
    hub.publish('predictions', marker);
    let m = await fast.next();
    while ((m.data as Prediction | undefined)?.eventTime !== -1) m = await fast.next();
    expect(m).toMatchObject({ type: 'prediction', data: marker });

    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.closed).code).toBe(4008);
  });

  it('terminates a client that does not answer pings', async () => {
    const { url, hub } = await start({ heartbeatMs: 100 });
    const deaf = await hello(url, { autoPong: false });
    const ok = await hello(url);
    const { code } = await deaf.closed;
    expect(code).toBe(1006);
    expect(ok.ws.readyState).toBe(WebSocket.OPEN);
    expect(hub.clientCount()).toBe(1);
  });

  it('app.close() closes every client with 1001 before the server stops', async () => {
    const { app, hub, url } = await start();
    const a = await hello(url);
    const b = await hello(url);
    await a.subscribe('BTCUSDT');
    await app.close();
    expect(await a.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await b.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(hub.clientCount()).toBe(0);
    await expect(TestClient.open(url)).rejects.toThrow();
  });

  it('app.close() does not wait forever for a client that never completes the close handshake', async () => {
    const { app, url } = await start({ closeGraceMs: 50 });
    const stuck = await hello(url);
    const raw = (stuck.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    await app.close();
    // Only now let the client read, so it cannot have answered the close frame before the deadline.
    raw.resume();
    const { code } = await stuck.closed;
    expect([1001, 1006]).toContain(code);
  });
});
