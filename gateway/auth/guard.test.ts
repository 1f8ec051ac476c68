import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { createAuthGuard, redactUrl, scopeAllows } from './guard.js';
import type { KeyStore, VerifyResult } from './keys.js';

const READ = `bpk_aaaaaaaaaaaa_${'r'.repeat(43)}`;
const ADMIN = `bpk_bbbbbbbbbbbb_${'a'.repeat(43)}`;
const REVOKED = `bpk_cccccccccccc_${'x'.repeat(43)}`;
const UNKNOWN = `bpk_dddddddddddd_${'u'.repeat(43)}`;

// Only verify() matters to the guard; the store's own behaviour is tested in keys.test.ts.
function fakeStore(opts: { down?: boolean } = {}): KeyStore & { calls: string[] } {
  const results: Record<string, VerifyResult> = {
    [READ]: { ok: true, id: 'aaaaaaaaaaaa', name: 'reader', scope: 'read' },
    [ADMIN]: { ok: true, id: 'bbbbbbbbbbbb', name: 'ops', scope: 'admin' },
    [REVOKED]: { ok: false, reason: 'revoked' },
  };
  const calls: string[] = [];
  const unused = (): never => {
    throw new Error('not used by the guard');
  };
  return {
    calls,
    async verify(presented) {
      calls.push(presented);
      if (opts.down) throw new BitPredictError('ERR_REDIS', 'API key store: verify failed: Connection is closed.');
      if (!/^bpk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/.test(presented)) return { ok: false, reason: 'malformed' };
      return results[presented] ?? { ok: false, reason: 'unknown' };
    },
    create: unused,
    revoke: unused,
    list: unused,
    status: unused,
  };
}

const logger = createLogger({ level: 'silent' });

function guard(opts: { mode?: 'keys' | 'open'; down?: boolean; allowedOrigins?: string[]; publicOrigin?: string; allowedHosts?: string[] } = {}) {
  const store = fakeStore({ down: opts.down ?? false });
  return {
    store,
    guard: createAuthGuard({
      mode: opts.mode ?? 'keys',
      store,
      allowedOrigins: opts.allowedOrigins ?? [],
      ...(opts.publicOrigin === undefined ? {} : { publicOrigin: opts.publicOrigin }),
      ...(opts.allowedHosts === undefined ? {} : { allowedHosts: opts.allowedHosts }),
      logger,
    }),
  };
}

/** A request from a loopback peer; `upgrade` for the WebSocket upgrade (a /ws URL). */
function req(headers: IncomingHttpHeaders = {}, url = '/v1/predictions/latest?symbol=BTCUSDT', remoteAddress = '127.0.0.1') {
  return { headers: { host: 'gw.example:8080', ...headers }, url, remoteAddress, upgrade: url.startsWith('/ws') };
}

describe('auth guard: credentials', () => {
  it('401 "API key required" when no key is presented', async () => {
    const { guard: g } = guard();
    expect(await g.check(req(), 'read')).toEqual({ ok: false, status: 401, code: 'ERR_UNAUTHENTICATED', message: 'API key required' });
  });

  it.each([
    ['Authorization: Bearer', { authorization: `Bearer ${READ}` }, undefined],
    ['Authorization: bearer (any case)', { authorization: `bearer ${READ}` }, undefined],
    ['X-API-Key', { 'x-api-key': READ }, undefined],
    ['api_key query parameter', {}, `/ws?api_key=${READ}`],
    ['the same key twice', { 'x-api-key': READ }, `/ws?api_key=${READ}`],
  ])('accepts a key from %s', async (_label, headers: IncomingHttpHeaders, url: string | undefined) => {
    const { guard: g } = guard();
    expect(await g.check(req(headers, url), 'read')).toEqual({ ok: true, principal: { keyId: 'aaaaaaaaaaaa', scope: 'read', name: 'reader' } });
  });

  it.each([
    ['alone', `/v1/predictions/latest?symbol=BTCUSDT&api_key=${READ}`, {}],
    ['beside the same key in X-API-Key', `/v1/keys?api_key=${READ}`, { 'x-api-key': READ }],
    ['empty', '/v1/models?api_key=', { 'x-api-key': READ }],
  ])(
    '401 for api_key in the query string of a REST route (%s), naming the headers, without asking the store',
    async (_l, url, headers: IncomingHttpHeaders) => {
      const { guard: g, store } = guard();
      expect(await g.check(req(headers, url), 'read')).toMatchObject({
        ok: false,
        status: 401,
        code: 'ERR_UNAUTHENTICATED',
        message: expect.stringMatching(/only on the WebSocket upgrade.*Authorization: Bearer.*X-API-Key/) as unknown,
      });
      expect(store.calls).toEqual([]);
    },
  );

  it('401 naming the problem for malformed, unknown and revoked keys', async () => {
    const { guard: g } = guard();
    expect(await g.check(req({ 'x-api-key': 'hunter2' }), 'read')).toMatchObject({
      ok: false,
      status: 401,
      code: 'ERR_UNAUTHENTICATED',
      message: expect.stringMatching(/malformed/) as unknown,
    });
    expect(await g.check(req({ 'x-api-key': UNKNOWN }), 'read')).toMatchObject({
      ok: false,
      status: 401,
      code: 'ERR_UNAUTHENTICATED',
      message: 'API key dddddddddddd is not known',
    });
    expect(await g.check(req({ 'x-api-key': REVOKED }), 'read')).toMatchObject({
      ok: false,
      status: 401,
      code: 'ERR_UNAUTHENTICATED',
      message: 'API key cccccccccccc was revoked',
    });
  });

  it('401 for an Authorization header that is not Bearer, without asking the store', async () => {
    const { guard: g, store } = guard();
    const out = await g.check(req({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 'read');
    expect(out).toMatchObject({ ok: false, status: 401, code: 'ERR_UNAUTHENTICATED', message: expect.stringMatching(/Bearer/) as unknown });
    expect(store.calls).toEqual([]);
  });

  it('401 when two different keys are presented', async () => {
    const { guard: g, store } = guard();
    const out = await g.check(req({ authorization: `Bearer ${ADMIN}` }, `/ws?api_key=${READ}`), 'read');
    expect(out).toMatchObject({ ok: false, status: 401, code: 'ERR_UNAUTHENTICATED' });
    expect(store.calls).toEqual([]);
  });

  it('never puts the secret in a message', async () => {
    const { guard: g } = guard();
    for (const key of [UNKNOWN, REVOKED]) {
      const out = await g.check(req({ 'x-api-key': key }), 'admin');
      expect(out.ok).toBe(false);
      if (!out.ok) expect(out.message).not.toContain(key.slice(17));
    }
  });
});

describe('auth guard: scope', () => {
  it('a read key may read but gets 403 ERR_FORBIDDEN on admin routes; an admin key may do both', async () => {
    const { guard: g } = guard();
    expect((await g.check(req({ 'x-api-key': READ }), 'read')).ok).toBe(true);
    expect(await g.check(req({ 'x-api-key': READ }), 'admin')).toMatchObject({
      ok: false,
      status: 403,
      code: 'ERR_FORBIDDEN',
      message: expect.stringMatching(/aaaaaaaaaaaa.*read.*admin/) as unknown,
    });
    expect(await g.check(req({ 'x-api-key': ADMIN }), 'read')).toEqual({ ok: true, principal: { keyId: 'bbbbbbbbbbbb', scope: 'admin', name: 'ops' } });
    expect((await g.check(req({ 'x-api-key': ADMIN }), 'admin')).ok).toBe(true);
  });

  it('scopeAllows: admin includes read, read does not include admin', () => {
    expect(scopeAllows('admin', 'read')).toBe(true);
    expect(scopeAllows('admin', 'admin')).toBe(true);
    expect(scopeAllows('read', 'read')).toBe(true);
    expect(scopeAllows('read', 'admin')).toBe(false);
  });
});

describe('auth guard: key store down', () => {
  it('503 ERR_UNAVAILABLE when the key store fails', async () => {
    const { guard: g } = guard({ down: true });
    expect(await g.check(req({ 'x-api-key': READ }), 'read')).toMatchObject({ ok: false, status: 503, code: 'ERR_UNAVAILABLE' });
  });

  it('a missing key is still 401 (no store call needed)', async () => {
    const { guard: g } = guard({ down: true });
    expect(await g.check(req(), 'read')).toMatchObject({ ok: false, status: 401 });
  });
});

describe('auth guard: Origin', () => {
  it('passes requests without an Origin header (non-browser clients)', async () => {
    const { guard: g } = guard();
    expect((await g.check(req({ 'x-api-key': READ }), 'read')).ok).toBe(true);
  });

  it.each([
    ['http://<loopback Host>', 'http://127.0.0.1:8080', '127.0.0.1:8080'],
    ['https://<localhost Host>', 'https://localhost:8080', 'localhost:8080'],
    ['an IPv6 loopback Host', 'http://[::1]:8080', '[::1]:8080'],
    ['an IP-address Host', 'http://10.1.2.3:8080', '10.1.2.3:8080'],
    ['the Host in another case', 'http://LOCALHOST:8080', 'localhost:8080'],
  ])("accepts the gateway's own page on a loopback or IP-address Host: %s", async (_label, origin, host) => {
    const { guard: g } = guard();
    expect((await g.check(req({ 'x-api-key': READ, origin, host }), 'read')).ok).toBe(true);
  });

  it('403 for Origin http(s)://<Host> when the Host is a DNS name that is not configured (DNS rebinding)', async () => {
    const { guard: g, store } = guard({ allowedHosts: ['gw.example'] });
    for (const origin of ['http://gw.example:8080', 'https://gw.example:8080']) {
      expect(await g.check(req({ 'x-api-key': READ, origin }), 'read')).toMatchObject({ ok: false, status: 403, code: 'ERR_ORIGIN_FORBIDDEN' });
    }
    expect(store.calls).toEqual([]);
  });

  it('accepts an origin from allowedOrigins, with default ports and case normalised', async () => {
    const { guard: g } = guard({ allowedOrigins: ['https://Dash.example:443', 'http://localhost:5173'] });
    expect((await g.check(req({ 'x-api-key': READ, origin: 'https://dash.example' }), 'read')).ok).toBe(true);
    expect((await g.check(req({ 'x-api-key': READ, origin: 'http://localhost:5173' }), 'read')).ok).toBe(true);
  });

  it("accepts the configured public origin (the gateway's own dashboard behind its DNS name)", async () => {
    const { guard: g } = guard({ publicOrigin: 'https://public.example' });
    expect((await g.check(req({ 'x-api-key': READ, origin: 'https://public.example', host: 'public.example' }), 'read')).ok).toBe(true);
    expect((await g.check(req({ 'x-api-key': READ, origin: 'http://public.example', host: 'public.example' }), 'read')).ok).toBe(false);
  });

  it.each([
    ['another site', 'https://evil.example'],
    ['another port of the same host', 'http://gw.example:9090'],
    ['a look-alike host', 'http://gw.example:8080.evil.example'],
    ['the opaque origin "null"', 'null'],
    ['a non-http scheme', 'file://gw.example:8080'],
  ])('403 ERR_ORIGIN_FORBIDDEN for %s, before the key is checked', async (_label, origin) => {
    const { guard: g, store } = guard({ allowedOrigins: ['http://localhost:5173'] });
    expect(await g.check(req({ 'x-api-key': ADMIN, origin }), 'read')).toMatchObject({ ok: false, status: 403, code: 'ERR_ORIGIN_FORBIDDEN' });
    expect(store.calls).toEqual([]);
  });
});

describe('auth guard: open mode', () => {
  it('lets a loopback peer read as a read principal without asking the store', async () => {
    const { guard: g, store } = guard({ mode: 'open' });
    const open = { ok: true, principal: { keyId: null, scope: 'read', name: 'open-mode' } };
    expect(await g.check(req(), 'read')).toEqual(open);
    expect(await g.check(req({ 'x-api-key': 'garbage' }), 'read')).toEqual(open);
    expect(await g.check(req({}, '/ws', '::ffff:127.0.0.1'), 'read')).toEqual(open);
    expect(store.calls).toEqual([]);
  });

  it('never grants the admin scope: key management needs a real admin key', async () => {
    const { guard: g } = guard({ mode: 'open' });
    expect(await g.check(req(), 'admin')).toMatchObject({
      ok: false,
      status: 401,
      code: 'ERR_UNAUTHENTICATED',
      message: expect.stringMatching(/never key management/) as unknown,
    });
    expect(await g.check(req({ 'x-api-key': READ }), 'admin')).toMatchObject({ ok: false, status: 403, code: 'ERR_FORBIDDEN' });
    expect(await g.check(req({ 'x-api-key': ADMIN }), 'admin')).toEqual({ ok: true, principal: { keyId: 'bbbbbbbbbbbb', scope: 'admin', name: 'ops' } });
  });

  it('a peer that is not on loopback needs a key even in open mode', async () => {
    const { guard: g } = guard({ mode: 'open' });
    expect(await g.check(req({}, undefined, '192.0.2.7'), 'read')).toMatchObject({ ok: false, status: 401, code: 'ERR_UNAUTHENTICATED' });
    expect(await g.check(req({}, undefined, undefined), 'read')).toMatchObject({ ok: true });
    expect((await g.check(req({ 'x-api-key': READ }, undefined, '192.0.2.7'), 'read')).ok).toBe(true);
  });

  it('still applies the Origin check', async () => {
    const { guard: g } = guard({ mode: 'open' });
    expect(await g.check(req({ origin: 'https://evil.example' }), 'read')).toMatchObject({ ok: false, status: 403, code: 'ERR_ORIGIN_FORBIDDEN' });
    expect((await g.check(req({ origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' }), 'read')).ok).toBe(true);
  });
});

describe('auth guard: Host', () => {
  it.each([
    ['localhost', 'localhost:8080'],
    ['localhost without a port', 'localhost'],
    ['a *.localhost name', 'app.localhost:8080'],
    ['127.0.0.1', '127.0.0.1:8080'],
    ['[::1]', '[::1]:8080'],
    ['an IP address (probes, scrapes)', '10.0.3.7:8080'],
    ['an IPv6 address', '[2001:db8::1]:8080'],
    ['the public origin host', 'public.example'],
    ['an allowed origin host', 'dash.example:443'],
    ['a listed host in any case', 'GATEWAY.bitpredict.svc:8080'],
  ])('serves %s', (_l, host) => {
    const { guard: g } = guard({ publicOrigin: 'https://public.example', allowedOrigins: ['https://dash.example'], allowedHosts: ['gateway.bitpredict.svc'] });
    expect(g.checkHost({ headers: { host }, url: '/healthz' })).toBeNull();
  });

  it.each([
    ['a rebinding name', 'evil.example:8080'],
    ['a look-alike of localhost', 'localhost.evil.example'],
    ['a look-alike of an allowed host', 'public.example.evil.example'],
    ['userinfo', 'public.example@evil.example'],
    ['a path', 'public.example/x'],
    ['an empty Host', ''],
    ['a space', 'public.example x'],
  ])('403 ERR_HOST_FORBIDDEN for %s', (_l, host) => {
    const { guard: g } = guard({ publicOrigin: 'https://public.example' });
    expect(g.checkHost({ headers: { host }, url: '/' })).toMatchObject({
      ok: false,
      status: 403,
      code: 'ERR_HOST_FORBIDDEN',
      message: expect.stringMatching(/BITPREDICT_GATEWAY_ALLOWED_HOSTS/) as unknown,
    });
  });

  it('"*" turns the check off', () => {
    const { guard: g } = guard({ allowedHosts: ['*'] });
    expect(g.checkHost({ headers: { host: 'evil.example' }, url: '/' })).toBeNull();
  });
});

describe('auth guard: CORS', () => {
  it('echoes a configured origin (allowed or public), nothing for others or without an Origin', () => {
    const { guard: g } = guard({ allowedOrigins: ['https://dash.example'], publicOrigin: 'https://public.example' });
    expect(g.corsOrigin({ origin: 'https://dash.example' })).toBe('https://dash.example');
    expect(g.corsOrigin({ origin: 'https://public.example' })).toBe('https://public.example');
    expect(g.corsOrigin({ origin: 'https://evil.example' })).toBeNull();
    expect(g.corsOrigin({ origin: 'null' })).toBeNull();
    expect(g.corsOrigin({})).toBeNull();
  });
});

describe('redactUrl', () => {
  it('replaces the api_key value and leaves the rest of the URL', () => {
    expect(redactUrl(`/ws?api_key=${READ}&x=1`)).toBe('/ws?api_key=***&x=1');
    expect(redactUrl(`/ws?x=1&API_KEY=whatever`)).toBe('/ws?x=1&API_KEY=***');
    expect(redactUrl('/v1/predictions?symbol=BTCUSDT')).toBe('/v1/predictions?symbol=BTCUSDT');
  });

  it('also hides a key that sits in another parameter', () => {
    expect(redactUrl(`/ws?token=${READ}`)).toBe('/ws?token=bpk_aaaaaaaaaaaa_***');
  });
});
