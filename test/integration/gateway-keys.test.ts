// API keys end to end on the real Redis: `bitpredict keys` (the real CLI process) creates, lists
// and revokes keys, and the gateway's guard, reading the same Redis hash, accepts and then refuses them.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createRedis, redisKeys, type Redis } from '../../core/redis.js';
import { createAuthGuard } from '../../gateway/auth/guard.js';
import { createKeyStore, parseKey, type KeyStore } from '../../gateway/auth/keys.js';
import { REPO_ROOT, uniqueId } from '../helpers/platform.js';

const config = loadConfig();
const prefix = `bp:test:${uniqueId('keys')}:`;
const logger = createLogger({ level: 'silent' });

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'keys', ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(process.env.BITPREDICT_GATEWAY_ALLOWED_ORIGINS === undefined
        ? {}
        : { BITPREDICT_GATEWAY_ALLOWED_ORIGINS: process.env.BITPREDICT_GATEWAY_ALLOWED_ORIGINS }),
      BITPREDICT_REDIS_URL: config.redis.url,
      BITPREDICT_REDIS_KEY_PREFIX: prefix,
      BITPREDICT_LOG_LEVEL: 'silent',
      ...env,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('bitpredict keys + the gateway auth guard on real Redis', () => {
  let redis: Redis;
  let store: KeyStore;

  beforeAll(async () => {
    redis = await createRedis({ config: config.redis, logger });
    store = createKeyStore(redis, prefix);
  });

  afterAll(async () => {
    await redis.del(redisKeys(prefix).apiKeys());
    await redis.quit();
  });

  it('create -> list -> verify -> revoke -> verify says revoked', async () => {
    const guard = createAuthGuard({ mode: 'keys', store, allowedOrigins: [], logger });
    const request = (key: string) => ({ headers: { host: '127.0.0.1:8080', authorization: `Bearer ${key}` }, url: '/v1/keys' });

    const admin = cli(['create', '--name', 'ops team', '--scope', 'admin']);
    expect(admin.stderr).toMatch(/cannot be shown again/);
    expect(admin.status).toBe(0);
    const adminKey = admin.stdout.trim();
    const adminParts = parseKey(adminKey);
    expect(adminParts).not.toBeNull();

    const reader = cli(['create', '--name', 'dashboard', '--scope', 'read']);
    expect(reader.status).toBe(0);
    const readKey = reader.stdout.trim();
    const readParts = parseKey(readKey);
    expect(readParts).not.toBeNull();
    const readId = readParts?.id ?? '';

    // Redis holds hashes only: neither secret appears anywhere in the hash.
    const stored = JSON.stringify(await redis.hgetall(redisKeys(prefix).apiKeys()));
    expect(stored).not.toContain(adminParts?.secret);
    expect(stored).not.toContain(readParts?.secret);

    const list = cli(['list']);
    expect(list.status).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+SCOPE\s+CREATED\s+REVOKED$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      [adminParts?.id, 'ops team', 'admin', expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown, '-'],
      [readId, 'dashboard', 'read', expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown, '-'],
    ]);
    expect(list.stdout).not.toContain(readParts?.secret);

    expect(await guard.check(request(adminKey), 'admin')).toEqual({ ok: true, principal: { keyId: adminParts?.id, scope: 'admin', name: 'ops team' } });
    expect(await guard.check(request(readKey), 'read')).toEqual({ ok: true, principal: { keyId: readId, scope: 'read', name: 'dashboard' } });
    expect(await guard.check(request(readKey), 'admin')).toMatchObject({ ok: false, status: 403, code: 'ERR_FORBIDDEN' });

    const revoke = cli(['revoke', readId]);
    expect(revoke.stderr).toBe('');
    expect(revoke.status).toBe(0);
    expect(revoke.stdout).toMatch(new RegExp(`revoked API key ${readId}`));

    expect(await store.verify(readKey)).toEqual({ ok: false, reason: 'revoked' });
    expect(await guard.check(request(readKey), 'read')).toEqual({
      ok: false,
      status: 401,
      code: 'ERR_UNAUTHENTICATED',
      message: `API key ${readId} was revoked`,
    });
    expect(Object.fromEntries(await store.status([readId, adminParts?.id ?? '']))).toEqual({ [readId]: 'revoked', [adminParts?.id ?? '']: 'active' });
    expect((await guard.check(request(adminKey), 'admin')).ok).toBe(true);

    const after = cli(['list']);
    const readRow = after.stdout.split('\n').find((l) => l.startsWith(readId)) ?? '';
    expect(readRow.split(/\s{2,}/)[4]).toMatch(/^\d{4}-\d\d-\d\dT/);

    const again = cli(['revoke', readId]);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/already revoked/);
  });

  it('revoking an unknown id exits 1 with one line', () => {
    const r = cli(['revoke', 'ffffffffffff']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('bitpredict keys: no API key with id ffffffffffff');
  });

  it.each([
    ['create without flags', ['create']],
    ['a bad scope', ['create', '--name', 'x', '--scope', 'root']],
    ['an unknown flag', ['create', '--name', 'x', '--scope', 'read', '--ttl', '3']],
    ['a bad id', ['revoke', 'not-an-id']],
    ['an unknown subcommand', ['rotate']],
  ])('%s gives one line and the pointer to the help on stderr, exit 2, before connecting', (_label, args) => {
    // An unreachable Redis proves the flags are checked first.
    const r = cli(args, { BITPREDICT_REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^bitpredict keys( create| revoke)?: [^\n]+\nsee bitpredict keys( create| revoke)? --help\n$/);
    expect(r.stdout).toBe('');
  });

  it('an unreachable Redis gives one ERR_REDIS_UNREACHABLE line and exit 1', () => {
    const r = cli(['list'], { BITPREDICT_REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^bitpredict: ERR_REDIS_UNREACHABLE: /);
  });
});
