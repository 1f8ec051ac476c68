// The gateway's HTTP hardening on real sockets and the real key store (Redis): connection caps per
// API key and per address on the WebSocket upgrade (1,000 connections from one key), the REST
// rate limit (429 with Retry-After), the Host allowlist on every request (DNS rebinding), the
// Origin check that no longer trusts http(s)://<Host>, api_key in the query only on the upgrade,
// CORS for the configured origins, and open mode that never grants the admin scope.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { createRedis, redisKeys, type Redis } from '../../core/redis.js';
import { buildApp, type HttpLimits } from '../../gateway/app.js';
import { createAuthGuard, type AuthGuardDeps } from '../../gateway/auth/guard.js';
import { createKeyStore, type KeyStore } from '../../gateway/auth/keys.js';
import { registerKeyRoutes } from '../../gateway/auth/routes.js';
import { uniqueId } from '../helpers/platform.js';

const config = loadConfig();
const prefix = `bp:test:${uniqueId('hardening')}:`;
const logger = createLogger({ level: 'silent' });

let redis: Redis;
let store: KeyStore;
let readKey: string;
let readKey2: string;
let adminKey: string;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  redis = await createRedis({ config: config.redis, logger });
  store = createKeyStore(redis, prefix);
  readKey = (await store.create('trader', 'read')).key;
  readKey2 = (await store.create('second trader', 'read')).key;
  adminKey = (await store.create('ops', 'admin')).key;
});

afterAll(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await redis.del(redisKeys(prefix).apiKeys());
  await redis.quit();
});

interface Gateway {
  app: FastifyInstance;
  port: number;
  metrics(): Promise<string>;
}

async function start(
  opts: { limits?: HttpLimits; guard?: Partial<Pick<AuthGuardDeps, 'mode' | 'allowedOrigins' | 'publicOrigin' | 'allowedHosts'>> } = {},
): Promise<Gateway> {
  const registry = createMetricsRegistry({ service: 'hardening-test', defaultMetrics: false });
  const auth = createAuthGuard({ mode: 'keys', allowedOrigins: [], ...opts.guard, store, logger });
  const { app } = await buildApp({
    logger,
    registry,
    maxBufferedBytes: 1024 * 1024,
    closeGraceMs: 200,
    snapshot: () => Promise.resolve([]),
    auth,
    readiness: () => ({ ready: true, checks: {} }),
    routes: async (a) => {
      // A read route standing in for the data routes: the hooks in front of it are under test.
      a.get('/v1/ping', { config: { scope: 'read' } }, () => ({ pong: true }));
      await a.register(registerKeyRoutes, { store });
    },
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { app, port, metrics: () => registry.metrics() };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request with any Host header (fetch would not let a test set it). */
function call(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...opts.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

type Upgrade = { ok: true; ws: WebSocket } | { ok: false; status: number; body: string };

/** Opens a WebSocket and waits for hello, or for the HTTP refusal of the upgrade. */
function connect(port: number, opts: { query?: string; headers?: Record<string, string> } = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${opts.query ?? ''}`, { headers: opts.headers ?? {} });
    ws.once('message', () => resolve({ ok: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (err) => reject(err));
  });
}

function closeAll(sockets: WebSocket[]): Promise<void> {
  return Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close();
        }),
    ),
  ).then(() => undefined);
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

const LIMITS: HttpLimits = { rate: 1000, perKey: 50, perAddress: 80, trustedProxies: [] };

describe('WebSocket connection caps', () => {
  it('1,000 connections from one key: the cap holds, the rest get 429 naming the setting, closing one frees a place', async () => {
    const gw = await start({ limits: LIMITS });
    const auth = { authorization: `Bearer ${readKey}` };
    const open: WebSocket[] = [];
    const refused: { status: number; body: string }[] = [];
    for (let batch = 0; batch < 1000; batch += 50) {
      const results = await Promise.all(Array.from({ length: 50 }, () => connect(gw.port, { headers: auth })));
      for (const r of results) {
        if (r.ok) open.push(r.ws);
        else refused.push(r);
      }
    }
    expect(open.length).toBe(50);
    expect(refused.length).toBe(950);
    expect(new Set(refused.map((r) => r.status))).toEqual(new Set([429]));
    const body = JSON.parse(refused[0]?.body ?? '{}') as { code: string; message: string };
    expect(body.code).toBe('ERR_RATE_LIMITED');
    expect(body.message).toMatch(/already holds 50 open WebSockets \(BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_KEY\)/);
    expect(metricValue(await gw.metrics(), 'bitpredict_gateway_connections_refused_total', 'limit="key"')).toBe(950);

    // The per-address cap (80) still leaves 30 for another key from this address.
    const other: Upgrade[] = [];
    for (let i = 0; i < 35; i++) other.push(await connect(gw.port, { headers: { 'x-api-key': readKey2 } }));
    expect(other.filter((r) => r.ok).length).toBe(30);
    const byAddress = other.find((r) => !r.ok);
    expect(byAddress && !byAddress.ok && byAddress.status).toBe(429);
    expect(byAddress && !byAddress.ok && byAddress.body).toMatch(/BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS/);
    expect(metricValue(await gw.metrics(), 'bitpredict_gateway_connections_refused_total', 'limit="address"')).toBe(5);

    // A closed connection gives its place back (counted until its TCP socket closes).
    await closeAll(open.splice(0, 10));
    let again: Upgrade = { ok: false, status: 0, body: '' };
    for (let i = 0; i < 50 && !again.ok; i++) {
      again = await connect(gw.port, { headers: auth });
      if (!again.ok) await new Promise((r) => setTimeout(r, 20));
    }
    expect(again.ok).toBe(true);
    if (again.ok) open.push(again.ws);
    await closeAll([...open, ...other.flatMap((r) => (r.ok ? [r.ws] : []))]);
  }, 120_000);

  it('without limits (the default of buildApp) nothing is capped', async () => {
    const gw = await start();
    const results = await Promise.all(Array.from({ length: 60 }, () => connect(gw.port, { headers: { 'x-api-key': readKey } })));
    expect(results.every((r) => r.ok)).toBe(true);
    await closeAll(results.flatMap((r) => (r.ok ? [r.ws] : [])));
  });
});

describe('REST rate limit', () => {
  it('429 with Retry-After past the burst, per key; other keys and the ops routes are not affected', async () => {
    const gw = await start({ limits: { ...LIMITS, rate: 5 } });
    // The burst (twice the rate) passes at once; past it tokens come back at 5 a second, far
    // slower than requests on loopback arrive, so a refusal comes, whatever the machine's speed.
    const statuses: number[] = [];
    let refusal: Answer | undefined;
    for (let i = 0; i < 200 && refusal === undefined; i++) {
      const r = await call(gw.port, '/v1/ping', { headers: { 'x-api-key': readKey } });
      statuses.push(r.status);
      if (r.status !== 200) refusal = r;
    }
    expect(statuses.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => 200));
    expect(refusal?.status).toBe(429);
    expect(Number(refusal?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refusal?.body ?? '{}')).toMatchObject({
      code: 'ERR_RATE_LIMITED',
      message: expect.stringMatching(/BITPREDICT_GATEWAY_HTTP_RATE/) as unknown,
    });
    expect((await call(gw.port, '/v1/ping', { headers: { 'x-api-key': readKey2 } })).status).toBe(200);
    for (let i = 0; i < 30; i++) expect((await call(gw.port, '/healthz')).status).toBe(200);
    expect(metricValue(await gw.metrics(), 'bitpredict_gateway_http_rate_limited_total', 'by="key"')).toBe(1);
  });

  it('requests without a key are limited per address (public routes)', async () => {
    const gw = await start({ limits: { ...LIMITS, rate: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 200 && !statuses.includes(429); i++) statuses.push((await call(gw.port, '/v1/openapi.json')).status);
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses.at(-1)).toBe(429);
    expect(metricValue(await gw.metrics(), 'bitpredict_gateway_http_rate_limited_total', 'by="address"')).toBeGreaterThanOrEqual(1);
  });
});

describe('Host allowlist and Origin (DNS rebinding)', () => {
  it('403 ERR_HOST_FORBIDDEN for a foreign Host on a public route, a REST route and the WebSocket upgrade', async () => {
    const gw = await start({ guard: { publicOrigin: 'https://gw.example' } });
    const foreign = { host: `rebind.evil.example:${gw.port}` };
    for (const path of ['/healthz', '/v1/ping', '/']) {
      const r = await call(gw.port, path, { headers: { ...foreign, 'x-api-key': readKey } });
      expect(r.status, path).toBe(403);
      expect(JSON.parse(r.body), path).toMatchObject({ code: 'ERR_HOST_FORBIDDEN' });
    }
    const up = await connect(gw.port, { headers: { ...foreign, 'x-api-key': readKey } });
    expect(up.ok).toBe(false);
    expect(!up.ok && up.status).toBe(403);
    // The configured public host, loopback names and IP addresses are served.
    expect((await call(gw.port, '/healthz', { headers: { host: 'gw.example' } })).status).toBe(200);
    expect((await call(gw.port, '/healthz', { headers: { host: `localhost:${gw.port}` } })).status).toBe(200);
    expect((await call(gw.port, '/healthz', { headers: { host: `10.9.8.7:${gw.port}` } })).status).toBe(200);
  });

  it('an Origin equal to http://<Host> is not trusted for a DNS name; the public origin and loopback pages are', async () => {
    const gw = await start({ guard: { publicOrigin: 'https://gw.example', allowedHosts: ['other.example'] } });
    const named = await connect(gw.port, { headers: { host: `other.example:${gw.port}`, origin: `http://other.example:${gw.port}`, 'x-api-key': readKey } });
    expect(named.ok).toBe(false);
    expect(!named.ok && JSON.parse(named.body)).toMatchObject({ code: 'ERR_ORIGIN_FORBIDDEN' });
    const pub = await connect(gw.port, { headers: { host: 'gw.example', origin: 'https://gw.example', 'x-api-key': readKey } });
    expect(pub.ok).toBe(true);
    const loop = await connect(gw.port, { headers: { origin: `http://127.0.0.1:${gw.port}`, 'x-api-key': readKey } });
    expect(loop.ok).toBe(true);
    await closeAll([pub, loop].flatMap((r) => (r.ok ? [r.ws] : [])));
  });
});

describe('api_key in the query string', () => {
  it('is accepted on the WebSocket upgrade only; a REST route answers 401 naming the headers', async () => {
    const gw = await start();
    const ws = await connect(gw.port, { query: `?api_key=${encodeURIComponent(readKey)}` });
    expect(ws.ok).toBe(true);
    if (ws.ok) await closeAll([ws.ws]);
    const rest = await call(gw.port, `/v1/ping?api_key=${encodeURIComponent(readKey)}`);
    expect(rest.status).toBe(401);
    expect(JSON.parse(rest.body)).toMatchObject({ code: 'ERR_UNAUTHENTICATED', message: expect.stringMatching(/only on the WebSocket upgrade/) as unknown });
    const admin = await call(gw.port, `/v1/keys?api_key=${encodeURIComponent(adminKey)}`);
    expect(admin.status).toBe(401);
    expect((await call(gw.port, '/v1/ping', { headers: { authorization: `Bearer ${readKey}` } })).status).toBe(200);
  });
});

describe('CORS', () => {
  it('answers the preflight of an allowed origin and adds Access-Control-Allow-Origin and Vary; nothing for others', async () => {
    const gw = await start({ guard: { allowedOrigins: ['https://dash.example'] } });
    const pre = await call(gw.port, '/v1/ping', {
      method: 'OPTIONS',
      headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://dash.example');
    expect(pre.headers.vary).toMatch(/Origin/);
    expect(pre.headers['access-control-allow-headers']).toMatch(/X-API-Key/);
    const get = await call(gw.port, '/v1/ping', { headers: { origin: 'https://dash.example', 'x-api-key': readKey } });
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBe('https://dash.example');

    const evilPre = await call(gw.port, '/v1/ping', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(evilPre.headers['access-control-allow-origin']).toBeUndefined();
    expect(evilPre.status).not.toBe(204);
    const evilGet = await call(gw.port, '/v1/ping', { headers: { origin: 'https://evil.example', 'x-api-key': readKey } });
    expect(evilGet.status).toBe(403);
    expect(evilGet.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('open mode', () => {
  it('serves read routes and the WebSocket to loopback without a key, but never key management', async () => {
    const gw = await start({ guard: { mode: 'open' } });
    expect((await call(gw.port, '/v1/ping')).status).toBe(200);
    const ws = await connect(gw.port);
    expect(ws.ok).toBe(true);
    if (ws.ok) await closeAll([ws.ws]);
    const mint = await call(gw.port, '/v1/keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', scope: 'admin' }),
    });
    expect(mint.status).toBe(401);
    expect((await call(gw.port, '/v1/keys')).status).toBe(401);
    const withAdmin = await call(gw.port, '/v1/keys', { headers: { authorization: `Bearer ${adminKey}` } });
    expect(withAdmin.status).toBe(200);
  });
});
