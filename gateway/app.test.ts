import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../core/logger.js';
import { BitPredictError } from '../core/errors.js';
import type { Prediction } from '../schemas/types.js';
import { buildApp, WS_MAX_PAYLOAD, type GatewayDeps, type Hub } from './app.js';

const logger = createLogger({ level: 'silent' });

function prediction(over: Partial<Prediction> = {}): Prediction {
  return {
    symbol: 'BTCUSDT', interval: '1h', eventTime: 1_735_689_600_000, targetTime: 1_735_693_200_000, horizonSteps: 1,
    predictedLogReturn: -0.0008, predictedPrice: 93_950.25, probUp: 0.47, modelName: 'persistence', modelVersion: '1',
    isBaseline: true, featureSetVersion: 'fs1', candleIngestedAt: 1_735_693_200_100, featuresComputedAt: 1_735_693_200_150,
    predictedAt: 1_735_693_200_200, ...over,
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
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
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

interface Started { app: FastifyInstance; hub: Hub; registry: Registry; url: string }

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function build(over: Partial<GatewayDeps> = {}): Promise<{ app: FastifyInstance; hub: Hub; registry: Registry }> {
  const registry = new Registry();
  const { app, hub } = await buildApp({
    logger, registry, maxBufferedBytes: 1024 * 1024, closeGraceMs: 500,
    latest: () => Promise.resolve(null),
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
  expect(await c.next()).toMatchObject({ type: 'hello', protocol: 1 });
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
    expect(res.json()).toEqual({ status: 'ready', checks: { kafka: 'ok', redis: 'ok' } });
  });

  it('GET /readyz answers 503 with the checks when not ready', async () => {
    const { app } = await build({ readiness: () => ({ ready: false, checks: { kafka: 'ok', redis: 'connecting' } }) });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'not_ready', checks: { kafka: 'ok', redis: 'connecting' } });
  });

  it('GET /readyz answers 503 when the readiness check itself throws', async () => {
    const { app } = await build({ readiness: () => { throw new Error('boom'); } });
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
      'bitpredict_gateway_ws_clients', 'bitpredict_gateway_ws_messages_sent_total', 'bitpredict_gateway_ws_slow_disconnects_total',
      'bitpredict_gateway_ws_protocol_errors_total', 'bitpredict_gateway_predictions_published_total', 'bitpredict_gateway_ws_subscriptions',
      'bitpredict_test_marker_total',
    ]) {
      expect(res.body).toContain(`# TYPE ${name} `);
    }
  });

  it('GET /api/predictions/:symbol/latest returns the prediction for the upper-cased symbol', async () => {
    const p = prediction();
    const asked: string[] = [];
    const { app } = await build({ latest: (s) => { asked.push(s); return Promise.resolve(s === 'BTCUSDT' ? p : null); } });
    const res = await app.inject({ method: 'GET', url: '/api/predictions/btcusdt/latest' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(p);
    expect(asked).toEqual(['BTCUSDT']);
  });

  it('GET /api/predictions/:symbol/latest answers 404 {code,message} when there is none', async () => {
    const { app } = await build();
    const res = await app.inject({ method: 'GET', url: '/api/predictions/ETHUSDT/latest' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'ERR_NOT_FOUND', message: expect.stringContaining('ETHUSDT') as string });
  });

  it.each([
    ['one character', 'B'],
    ['21 characters', 'A'.repeat(21)],
    ['punctuation', 'BTC-USDT'],
    ['encoded slash', 'BTC%2FUSDT'],
    ['encoded space', 'BTC%20'],
    ['non-ASCII', 'BTC%C3%9C'],
  ])('GET /api/predictions/:symbol/latest answers 400 for %s', async (_label, symbol) => {
    let called = false;
    const { app } = await build({ latest: () => { called = true; return Promise.resolve(null); } });
    const res = await app.inject({ method: 'GET', url: `/api/predictions/${symbol}/latest` });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'ERR_VALIDATION', message: expect.any(String) as string });
    expect(called).toBe(false);
  });

  it('GET /api/predictions/:symbol/latest answers 503 when the snapshot source fails', async () => {
    const { app } = await build({ latest: () => Promise.reject(new BitPredictError('ERR_REDIS_UNREACHABLE', 'no redis')) });
    const res = await app.inject({ method: 'GET', url: '/api/predictions/BTCUSDT/latest' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ code: 'ERR_REDIS_UNREACHABLE', message: 'latest prediction unavailable' });
    const { app: app2 } = await build({ latest: () => Promise.reject(new TypeError('bug')) });
    const res2 = await app2.inject({ method: 'GET', url: '/api/predictions/BTCUSDT/latest' });
    expect(res2.statusCode).toBe(503);
    expect(res2.json()).toMatchObject({ code: 'ERR_INTERNAL' });
  });

  it('answers an unknown route with 404 JSON', async () => {
    const { app } = await build();
    const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'ERR_NOT_FOUND', message: 'no route for GET /nope' });
  });

  it('answers a malformed body, an overlong symbol and a malformed URL with 400 JSON', async () => {
    const { app } = await build();
    const post = await app.inject({ method: 'POST', url: '/api/predictions/BTCUSDT/latest', headers: { 'content-type': 'application/json' }, payload: '{"truncated' });
    expect(post.statusCode).toBe(400);
    expect(post.json()).toEqual({ code: 'ERR_VALIDATION', message: expect.any(String) as string });
    const long = await app.inject({ method: 'GET', url: `/api/predictions/${'A'.repeat(5000)}/latest` });
    expect(long.statusCode).toBe(400);
    expect(long.json()).toEqual({ code: 'ERR_VALIDATION', message: 'malformed or overlong URL' });
    const badUrl = await app.inject({ method: 'GET', url: '/api/predictions/%E0%A4%A/latest' });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.json()).toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('serves the dashboard and every asset it references, with a strict CSP', async () => {
    const { app } = await build();
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.body).toContain('BASELINE');
    const refs = [...res.body.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1] ?? '');
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const ref of refs) {
      const asset = await app.inject({ method: 'GET', url: ref });
      expect(asset.statusCode, ref).toBe(200);
      expect(asset.body.length, ref).toBeGreaterThan(0);
    }
    const js = await app.inject({ method: 'GET', url: '/app.js' });
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toContain('/ws');
  });

  it('still builds, without a dashboard, when the public folder is missing', async () => {
    const { app } = await build({ publicDir: new URL('./no-such-folder/', import.meta.url) });
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('WebSocket /ws', () => {
  it('greets, subscribes with a snapshot, and delivers only the subscribed symbol', async () => {
    const snap = prediction({ eventTime: 1 });
    const { hub, url } = await start({ latest: (s) => Promise.resolve(s === 'BTCUSDT' ? snap : null) });
    const btc = await hello(url);
    const eth = await hello(url);
    const idle = await hello(url);
    expect((await btc.subscribe('btcusdt')).snapshot).toEqual(snap);
    expect((await eth.subscribe('ETHUSDT')).snapshot).toBeNull();

    const p = prediction({ eventTime: 2 });
    hub.publish(p);
    expect(await btc.next()).toEqual({ type: 'prediction', channel: 'predictions:BTCUSDT', data: p, __binary: false });
    expect(await eth.sync('e1')).toEqual([]);
    expect(await idle.sync('i1')).toEqual([]);

    const q = prediction({ symbol: 'ETHUSDT', eventTime: 3 });
    hub.publish(q);
    expect(await eth.next()).toMatchObject({ type: 'prediction', channel: 'predictions:ETHUSDT', data: q });
    expect(await btc.sync('b1')).toEqual([]);
  });

  it('stops delivery after unsubscribe', async () => {
    const { hub, url } = await start();
    const c = await hello(url);
    await c.subscribe('BTCUSDT');
    c.send({ op: 'unsubscribe', channel: 'predictions:BTCUSDT', id: 9 });
    expect(await c.next()).toMatchObject({ type: 'unsubscribed', channel: 'predictions:BTCUSDT', id: 9 });
    hub.publish(prediction());
    expect(await c.sync('after')).toEqual([]);
  });

  it('answers each kind of bad input with an error and keeps the connection open', async () => {
    const { url, registry } = await start();
    const c = await hello(url);
    const bad: (string | Buffer)[] = [
      'not json', '{"op":"subscribe","channel":', '[1,2,3]', 'null', '42', '{"op":"dance"}', '{}',
      '{"op":"subscribe","channel":"predictions:$"}', '{"op":"subscribe","channel":"ticker:BTCUSDT"}',
      '{"op":"subscribe","channel":"predictions:AAAAAAAAAAAAAAAAAAAAA"}', '{"op":"ping","id":[1]}',
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

  it('closes a client that stops reading with 1013 while a reading client keeps receiving', async () => {
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
      hub.publish(prediction({ eventTime: sent, modelVersion: pad }));
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(hub.clientCount()).toBe(1);
    expect(await registry.metrics()).toMatch(/bitpredict_gateway_ws_slow_disconnects_total 1/);

    const marker = prediction({ eventTime: -1 });
    hub.publish(marker);
    let m = await fast.next();
    while ((m.data as Prediction | undefined)?.eventTime !== -1) m = await fast.next();
    expect(m).toMatchObject({ type: 'prediction', data: marker });

    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.closed).code).toBe(1013);
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
