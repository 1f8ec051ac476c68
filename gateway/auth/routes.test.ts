import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { BitPredictError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { createAuthGuard } from './guard.js';
import { parseKey, type ApiKeyRecord, type KeyStore, type Scope } from './keys.js';
import { registerKeyRoutes } from './routes.js';

// An in-memory KeyStore with the real store's contract (the Redis one is tested in keys.test.ts
// and test/integration/gateway-keys.test.ts); `down` makes every call fail like Redis would.
function memoryStore(): KeyStore & { down: boolean } {
  const records = new Map<string, ApiKeyRecord & { secret: string }>();
  let n = 0;
  const fail = (): void => {
    if (s.down) throw new BitPredictError('ERR_REDIS', 'API key store: Connection is closed.');
  };
  const pub = ({ secret: _secret, ...r }: ApiKeyRecord & { secret: string }): ApiKeyRecord => r;
  const s: KeyStore & { down: boolean } = {
    down: false,
    async create(name, scope) {
      fail();
      n += 1;
      const id = n.toString(16).padStart(12, '0');
      const secret = String(n).padStart(43, 's');
      records.set(id, { id, name, scope, createdAt: new Date(n * 1000).toISOString(), revokedAt: null, secret });
      return { key: `bpk_${id}_${secret}`, record: pub(records.get(id)!) };
    },
    async revoke(id) {
      fail();
      const r = records.get(id);
      if (!r) return null;
      r.revokedAt ??= new Date().toISOString();
      return pub(r);
    },
    async list() {
      fail();
      return [...records.values()].map(pub);
    },
    async verify(presented) {
      fail();
      const p = parseKey(presented);
      if (!p) return { ok: false, reason: 'malformed' };
      const r = records.get(p.id);
      if (!r || r.secret !== p.secret) return { ok: false, reason: 'unknown' };
      if (r.revokedAt) return { ok: false, reason: 'revoked' };
      return { ok: true, id: r.id, name: r.name, scope: r.scope };
    },
    async status() {
      throw new Error('not used');
    },
  };
  return s;
}

// Typed as the base logger so the instances are the plain FastifyInstance (as in app.ts).
const silent: FastifyBaseLogger = createLogger({ level: 'silent' });

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

// The same wiring the gateway's app.ts uses: one onRequest hook that runs the guard for every
// route declaring config.scope.
async function build(store: KeyStore): Promise<FastifyInstance> {
  const guard = createAuthGuard({ mode: 'keys', store, allowedOrigins: [], logger: createLogger({ level: 'silent' }) });
  const a = Fastify({ loggerInstance: silent });
  a.addHook('onRequest', async (req, reply) => {
    const need = req.routeOptions.config.scope;
    if (!need) return;
    const out = await guard.check({ headers: req.headers, url: req.url }, need);
    if (!out.ok) return reply.code(out.status).send({ code: out.code, message: out.message });
  });
  await a.register(registerKeyRoutes, { store });
  await a.ready();
  app = a;
  return a;
}

async function seedAdmin(store: KeyStore): Promise<string> {
  return (await store.create('root', 'admin')).key;
}

describe('key routes', () => {
  it('declare the admin scope, the keys tag and a summary on every route', async () => {
    const seen: { url: string; method: string | string[]; scope: Scope | undefined; tags: unknown; summary: unknown }[] = [];
    const a = Fastify();
    a.addHook('onRoute', (r) => {
      seen.push({ url: r.url, method: r.method, scope: r.config?.scope, tags: r.schema?.tags, summary: r.schema?.summary });
    });
    await a.register(registerKeyRoutes, { store: memoryStore() });
    await a.ready();
    await a.close();
    const routes = seen.filter((r) => r.method !== 'HEAD');
    expect(routes.map((r) => `${String(r.method)} ${r.url}`).sort()).toEqual(['DELETE /v1/keys/:id', 'GET /v1/keys', 'POST /v1/keys']);
    for (const r of routes) {
      expect(r.scope).toBe('admin');
      expect(r.tags).toEqual(['keys']);
      expect(typeof r.summary).toBe('string');
    }
  });

  it('create -> list -> revoke -> revoke again, with an admin key', async () => {
    const store = memoryStore();
    const admin = await seedAdmin(store);
    const a = await build(store);
    const auth = { authorization: `Bearer ${admin}` };

    const created = await a.inject({ method: 'POST', url: '/v1/keys', headers: auth, payload: { name: 'bot', scope: 'read' } });
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const body = created.json<{ key: string; record: ApiKeyRecord }>();
    expect(parseKey(body.key)?.id).toBe(body.record.id);
    expect(body.record).toMatchObject({ name: 'bot', scope: 'read', revokedAt: null });
    expect(Object.keys(body.record).sort()).toEqual(['createdAt', 'id', 'name', 'revokedAt', 'scope']);

    const list = await a.inject({ method: 'GET', url: '/v1/keys', headers: auth });
    expect(list.statusCode).toBe(200);
    const keys = list.json<{ keys: ApiKeyRecord[] }>().keys;
    expect(keys.map((k) => k.name)).toEqual(['root', 'bot']);
    expect(list.body).not.toContain(parseKey(body.key)?.secret);

    const revoked = await a.inject({ method: 'DELETE', url: `/v1/keys/${body.record.id}`, headers: auth });
    expect(revoked.statusCode).toBe(200);
    const rec = revoked.json<ApiKeyRecord>();
    expect(rec.revokedAt).not.toBeNull();
    const again = await a.inject({ method: 'DELETE', url: `/v1/keys/${body.record.id}`, headers: auth });
    expect(again.statusCode).toBe(200);
    expect(again.json<ApiKeyRecord>().revokedAt).toBe(rec.revokedAt);

    // The revoked key no longer opens anything.
    const refused = await a.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': body.key } });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toEqual({ code: 'ERR_UNAUTHENTICATED', message: `API key ${body.record.id} was revoked` });
  });

  it('404 ERR_NOT_FOUND for an unknown id, 400 for an id that is not one', async () => {
    const store = memoryStore();
    const a = await build(store);
    const auth = { 'x-api-key': await seedAdmin(store) };
    const missing = await a.inject({ method: 'DELETE', url: '/v1/keys/ffffffffffff', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ code: 'ERR_NOT_FOUND', message: 'no API key with id ffffffffffff' });
    expect((await a.inject({ method: 'DELETE', url: '/v1/keys/not-an-id', headers: auth })).statusCode).toBe(400);
  });

  it.each([
    ['no name', { scope: 'read' }],
    ['blank name', { name: '   ', scope: 'read' }],
    ['overlong name', { name: 'x'.repeat(65), scope: 'read' }],
    ['unknown scope', { name: 'x', scope: 'root' }],
  ])('400 for a create body with %s', async (_label, payload) => {
    const store = memoryStore();
    const a = await build(store);
    const res = await a.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': await seedAdmin(store) }, payload });
    expect(res.statusCode).toBe(400);
    expect((await store.list()).length).toBe(1);
  });

  it('a read key gets 403 and no key gets 401 on every key route', async () => {
    const store = memoryStore();
    const a = await build(store);
    const read = (await store.create('reader', 'read')).key;
    for (const [method, url] of [
      ['GET', '/v1/keys'],
      ['POST', '/v1/keys'],
      ['DELETE', '/v1/keys/000000000001'],
    ] as const) {
      const payload = method === 'POST' ? { name: 'x', scope: 'admin' } : undefined;
      const forbidden = await a.inject({ method, url, headers: { 'x-api-key': read }, ...(payload ? { payload } : {}) });
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.json<{ code: string }>().code).toBe('ERR_FORBIDDEN');
      expect((await a.inject({ method, url, ...(payload ? { payload } : {}) })).statusCode).toBe(401);
    }
    expect((await store.list()).map((r) => r.revokedAt)).toEqual([null]);
  });

  it('503 ERR_UNAVAILABLE when the store fails inside a route', async () => {
    const store = memoryStore();
    const admin = await seedAdmin(store);
    // A guard that lets the request in, so the route itself meets the failing store.
    const a = Fastify({ loggerInstance: silent });
    await a.register(registerKeyRoutes, { store });
    app = a;
    store.down = true;
    for (const [method, url] of [
      ['GET', '/v1/keys'],
      ['POST', '/v1/keys'],
      ['DELETE', '/v1/keys/000000000001'],
    ] as const) {
      const res = await a.inject({ method, url, headers: { 'x-api-key': admin }, ...(method === 'POST' ? { payload: { name: 'x', scope: 'read' } } : {}) });
      expect(res.statusCode).toBe(503);
      expect(res.json<{ code: string }>().code).toBe('ERR_UNAVAILABLE');
    }
  });
});
