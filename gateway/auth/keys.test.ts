import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isBitPredictError } from '../../core/errors.js';
import { redisKeys } from '../../core/redis.js';
import { createKeyStore, parseKey, redactKey, type KeyStoreRedis } from './keys.js';

// The five hash commands the store uses, over a Map; `fail` makes every command throw like a
// dropped connection.
function memoryRedis(): { redis: KeyStoreRedis; hashes: Map<string, Map<string, string>>; fail: { on: boolean } } {
  const hashes = new Map<string, Map<string, string>>();
  const fail = { on: false };
  const h = (key: string): Map<string, string> => {
    if (fail.on) throw new Error('Connection is closed.');
    let m = hashes.get(key);
    if (!m) hashes.set(key, (m = new Map<string, string>()));
    return m;
  };
  const redis = {
    hget: async (key: string, field: string) => h(key).get(field) ?? null,
    hset: async (key: string, field: string, value: string) => {
      const m = h(key);
      const added = m.has(field) ? 0 : 1;
      m.set(field, value);
      return added;
    },
    hsetnx: async (key: string, field: string, value: string) => {
      const m = h(key);
      if (m.has(field)) return 0;
      m.set(field, value);
      return 1;
    },
    hvals: async (key: string) => [...h(key).values()],
    hmget: async (key: string, ...fields: string[]) => fields.map((f) => h(key).get(f) ?? null),
  };
  return { redis: redis as unknown as KeyStoreRedis, hashes, fail };
}

const PREFIX = 'bp:unit:';
const ID = '0123456789ab';
const SECRET = 'A'.repeat(42) + '_';

describe('parseKey', () => {
  it('splits bpk_<12 hex>_<43 base64url> into id and secret, even when the secret holds _ and -', () => {
    expect(parseKey(`bpk_${ID}_${SECRET}`)).toEqual({ id: ID, secret: SECRET });
    const s2 = '_-' + 'z'.repeat(41);
    expect(parseKey(`bpk_${ID}_${s2}`)).toEqual({ id: ID, secret: s2 });
  });

  it.each([
    ['empty', ''],
    ['no prefix', `${ID}_${SECRET}`],
    ['other prefix', `bpx_${ID}_${SECRET}`],
    ['upper-case id', `bpk_0123456789AB_${SECRET}`],
    ['short id', `bpk_0123456789a_${SECRET}`],
    ['short secret', `bpk_${ID}_${SECRET.slice(1)}`],
    ['long secret', `bpk_${ID}_${SECRET}A`],
    ['padding', `bpk_${ID}_${SECRET.slice(1)}=`],
    ['whitespace', ` bpk_${ID}_${SECRET}`],
    ['trailing newline', `bpk_${ID}_${SECRET}\n`],
  ])('rejects %s', (_label, s) => {
    expect(parseKey(s)).toBeNull();
  });
});

describe('redactKey', () => {
  it('keeps the id and hides the secret', () => {
    expect(redactKey(`bpk_${ID}_${SECRET}`)).toBe(`bpk_${ID}_***`);
  });

  it('hides every key inside a longer string and leaves the rest alone', () => {
    const s = `GET /ws?x=1&api_key=bpk_${ID}_${SECRET}&y=2 and bpk_ffffffffffff_secret-bits, done`;
    expect(redactKey(s)).toBe(`GET /ws?x=1&api_key=bpk_${ID}_***&y=2 and bpk_ffffffffffff_***, done`);
  });

  it('hides everything after bpk_ when the id is not valid', () => {
    expect(redactKey('bpk_nothex_whatever')).toBe('bpk_***');
    expect(redactKey('no key here')).toBe('no key here');
  });
});

describe('createKeyStore', () => {
  it('create returns a well-formed key once and stores only the SHA-256 of its secret', async () => {
    const { redis, hashes } = memoryRedis();
    const store = createKeyStore(redis, PREFIX, { now: () => Date.parse('2026-01-02T03:04:05Z') });
    const { key, record } = await store.create('  trading bot  ', 'read');
    const parsed = parseKey(key);
    expect(parsed).not.toBeNull();
    expect(record).toEqual({ id: parsed?.id, name: 'trading bot', scope: 'read', createdAt: '2026-01-02T03:04:05.000Z', revokedAt: null });
    expect(record).not.toHaveProperty('hash');
    const raw = hashes.get(redisKeys(PREFIX).apiKeys())?.get(record.id) ?? '';
    expect(raw).not.toContain(parsed?.secret);
    expect(JSON.parse(raw)).toEqual({
      ...record,
      hash: createHash('sha256')
        .update(parsed?.secret ?? '')
        .digest('hex'),
    });
  });

  it('makes a different key every time', async () => {
    const store = createKeyStore(memoryRedis().redis, PREFIX);
    const a = await store.create('a', 'read');
    const b = await store.create('a', 'read');
    expect(a.key).not.toBe(b.key);
    expect(a.record.id).not.toBe(b.record.id);
  });

  it('refuses empty or overlong names and unknown scopes', async () => {
    const store = createKeyStore(memoryRedis().redis, PREFIX);
    await expect(store.create('   ', 'read')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(store.create('x'.repeat(65), 'read')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(store.create('x', 'root' as 'read')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('verify: ok with scope and name, unknown for a wrong secret or id, malformed for garbage, revoked after revoke', async () => {
    const store = createKeyStore(memoryRedis().redis, PREFIX);
    const { key, record } = await store.create('ops', 'admin');
    expect(await store.verify(key)).toEqual({ ok: true, id: record.id, name: 'ops', scope: 'admin' });

    const p = parseKey(key)!;
    const otherSecret = (p.secret[0] === 'A' ? 'B' : 'A') + p.secret.slice(1);
    expect(await store.verify(`bpk_${p.id}_${otherSecret}`)).toEqual({ ok: false, reason: 'unknown' });
    const otherId = p.id === ID ? 'ba9876543210' : ID;
    expect(await store.verify(`bpk_${otherId}_${p.secret}`)).toEqual({ ok: false, reason: 'unknown' });
    expect(await store.verify('hunter2')).toEqual({ ok: false, reason: 'malformed' });

    await store.revoke(record.id);
    expect(await store.verify(key)).toEqual({ ok: false, reason: 'revoked' });
    // Revocation is not revealed to someone without the secret.
    expect(await store.verify(`bpk_${p.id}_${otherSecret}`)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('revoke is idempotent (keeps the first revokedAt) and answers null for unknown or invalid ids', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const store = createKeyStore(memoryRedis().redis, PREFIX, { now: () => t });
    const { record } = await store.create('x', 'read');
    t += 60_000;
    const first = await store.revoke(record.id);
    expect(first).toEqual({ ...record, revokedAt: '2026-01-01T00:01:00.000Z' });
    t += 60_000;
    expect(await store.revoke(record.id)).toEqual(first);
    expect(await store.revoke(ID === record.id ? 'ba9876543210' : ID)).toBeNull();
    expect(await store.revoke('../../etc')).toBeNull();
  });

  it('list returns every key oldest first without hashes, skipping unreadable records', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const { redis, hashes } = memoryRedis();
    const store = createKeyStore(redis, PREFIX, { now: () => (t += 1000) });
    const a = await store.create('first', 'read');
    const b = await store.create('second', 'admin');
    hashes.get(redisKeys(PREFIX).apiKeys())?.set('ffffffffffff', '{not json');
    const list = await store.list();
    expect(list).toEqual([a.record, b.record]);
    for (const r of list) expect(r).not.toHaveProperty('hash');
  });

  it('status answers active, revoked or unknown for each id', async () => {
    const store = createKeyStore(memoryRedis().redis, PREFIX);
    const a = await store.create('a', 'read');
    const b = await store.create('b', 'read');
    await store.revoke(b.record.id);
    const unknown = [a.record.id, b.record.id].includes(ID) ? 'ba9876543210' : ID;
    const st = await store.status([a.record.id, b.record.id, unknown, 'nonsense']);
    expect(Object.fromEntries(st)).toEqual({ [a.record.id]: 'active', [b.record.id]: 'revoked', [unknown]: 'unknown', nonsense: 'unknown' });
    expect((await store.status([])).size).toBe(0);
  });

  it('turns Redis failures into ERR_REDIS (retryable) for every operation', async () => {
    const { redis, fail } = memoryRedis();
    const store = createKeyStore(redis, PREFIX);
    const { key, record } = await store.create('a', 'read');
    fail.on = true;
    for (const op of [
      () => store.create('b', 'read'),
      () => store.revoke(record.id),
      () => store.list(),
      () => store.verify(key),
      () => store.status([record.id]),
    ]) {
      const err: unknown = await op().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isBitPredictError(err) && err.code === 'ERR_REDIS' && err.retryable).toBe(true);
    }
  });

  it('keeps keys of different prefixes apart', async () => {
    const { redis } = memoryRedis();
    const one = createKeyStore(redis, 'bp:one:');
    const two = createKeyStore(redis, 'bp:two:');
    const { key } = await one.create('a', 'read');
    expect(await two.verify(key)).toEqual({ ok: false, reason: 'unknown' });
    expect(await two.list()).toEqual([]);
  });
});
