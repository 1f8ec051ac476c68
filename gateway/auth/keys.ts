// The gateway's API keys, kept in one Redis hash (redisKeys(prefix).apiKeys(): key id -> JSON
// record). A key reads `bpk_<id>_<secret>`: the id is public (lists, logs, revocation), the secret
// is 32 random bytes and only its SHA-256 is stored. The plaintext key exists once, in the answer
// to create(); it is never stored and never logged (redactKey keeps the id and hides the rest).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from '../../core/redis.js';
import { redisKeys } from '../../core/redis.js';
import { BitPredictError, errorMessage } from '../../core/errors.js';

export const SCOPES = ['read', 'admin'] as const;
/** read: streams and data routes; admin: also key management. admin includes read. */
export type Scope = (typeof SCOPES)[number];

/** A key as lists and answers show it: everything but the secret's hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  scope: Scope;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601, or null while the key is active. */
  revokedAt: string | null;
}

/** What Redis holds per key: the public record plus the SHA-256 (hex) of the secret. */
interface StoredKey extends ApiKeyRecord {
  hash: string;
}

export type VerifyResult = { ok: true; id: string; name: string; scope: Scope } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' };

export type KeyStatus = 'active' | 'revoked' | 'unknown';

export interface KeyStore {
  /** Makes a key; the answer holds the only copy of the plaintext key. */
  create(name: string, scope: Scope): Promise<{ key: string; record: ApiKeyRecord }>;
  /** Marks a key revoked (idempotent: a revoked key keeps its first revokedAt); null for an unknown id. */
  revoke(id: string): Promise<ApiKeyRecord | null>;
  /** Every key, oldest first, without hashes. */
  list(): Promise<ApiKeyRecord[]>;
  verify(presented: string): Promise<VerifyResult>;
  /** One round trip for many ids: what open WebSockets re-check every BITPREDICT_GATEWAY_KEY_RECHECK_MS. */
  status(ids: string[]): Promise<Map<string, KeyStatus>>;
}

/** The commands the store uses, so unit tests can pass a small in-memory stand-in. */
export type KeyStoreRedis = Pick<Redis, 'hget' | 'hset' | 'hsetnx' | 'hvals' | 'hmget'>;

export const KEY_PREFIX = 'bpk_';
const ID_BYTES = 6;
const SECRET_BYTES = 32;
/** 12 hex digits of id, then 43 base64url characters of secret (32 bytes, unpadded). */
const KEY_RE = /^bpk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const ID_RE = /^[0-9a-f]{12}$/;
export const NAME_MAX = 64;

export function isKeyId(s: string): boolean {
  return ID_RE.test(s);
}

export function isScope(s: unknown): s is Scope {
  return s === 'read' || s === 'admin';
}

/** Splits a presented key into id and secret; null when it is not of the form bpk_<id>_<secret>. */
export function parseKey(presented: string): { id: string; secret: string } | null {
  const m = KEY_RE.exec(presented);
  if (!m?.[1] || !m[2]) return null;
  return { id: m[1], secret: m[2] };
}

/**
 * Hides the secret of every key in a string (a key alone, a URL, a log line): `bpk_<id>_<secret>`
 * becomes `bpk_<id>_***`; something that starts like a key but has no valid id becomes `bpk_***`.
 */
export function redactKey(s: string): string {
  return s.replace(/bpk_([0-9a-f]{12}_)?[^\s&#"',;]*/g, (_m, id: string | undefined) => (id ? `bpk_${id}***` : 'bpk_***'));
}

// The secret is 256 bits from the CSPRNG, so one fast SHA-256 is enough: a slow password hash
// (scrypt, argon2) protects low-entropy secrets from guessing, which these are not, and would
// only add latency to every request and WebSocket upgrade.
function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

// A record that does not parse (hand-edited, from a future version) counts as absent rather than
// failing every request: it can never verify, and the operator still sees the rest of the keys.
function parseStored(raw: string | null | undefined): StoredKey | null {
  if (!raw) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (
    typeof r.id !== 'string' ||
    typeof r.name !== 'string' ||
    !isScope(r.scope) ||
    typeof r.hash !== 'string' ||
    typeof r.createdAt !== 'string' ||
    (r.revokedAt !== null && typeof r.revokedAt !== 'string')
  )
    return null;
  return { id: r.id, name: r.name, scope: r.scope, hash: r.hash, createdAt: r.createdAt, revokedAt: r.revokedAt };
}

function publicRecord(s: StoredKey): ApiKeyRecord {
  return { id: s.id, name: s.name, scope: s.scope, createdAt: s.createdAt, revokedAt: s.revokedAt };
}

export function createKeyStore(redis: KeyStoreRedis, prefix: string, options: { now?: () => number } = {}): KeyStore {
  const hashKey = redisKeys(prefix).apiKeys();
  const now = options.now ?? Date.now;

  // Every Redis failure becomes ERR_REDIS so callers can answer 503 without knowing ioredis.
  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new BitPredictError('ERR_REDIS', `API key store: ${what} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  return {
    async create(name, scope) {
      const trimmed = name.trim();
      if (trimmed.length === 0 || trimmed.length > NAME_MAX) {
        throw new BitPredictError('ERR_VALIDATION', `API key name must be 1 to ${NAME_MAX} characters, got ${trimmed.length}`);
      }
      if (!isScope(scope)) throw new BitPredictError('ERR_VALIDATION', `API key scope must be read or admin, not "${String(scope)}"`);
      // 48-bit ids collide only after millions of keys; HSETNX makes a collision a retry, never an overwrite.
      for (let attempt = 0; attempt < 5; attempt++) {
        const id = randomBytes(ID_BYTES).toString('hex');
        const secret = randomBytes(SECRET_BYTES).toString('base64url');
        const stored: StoredKey = { id, name: trimmed, scope, hash: hashSecret(secret), createdAt: new Date(now()).toISOString(), revokedAt: null };
        const added = await call('create', () => redis.hsetnx(hashKey, id, JSON.stringify(stored)));
        if (added === 1) return { key: `${KEY_PREFIX}${id}_${secret}`, record: publicRecord(stored) };
      }
      throw new BitPredictError('ERR_REDIS', 'API key store: could not find a free key id in 5 attempts');
    },

    async revoke(id) {
      if (!isKeyId(id)) return null;
      const stored = parseStored(await call('revoke', () => redis.hget(hashKey, id)));
      if (!stored) return null;
      if (stored.revokedAt !== null) return publicRecord(stored);
      const revoked: StoredKey = { ...stored, revokedAt: new Date(now()).toISOString() };
      await call('revoke', () => redis.hset(hashKey, id, JSON.stringify(revoked)));
      return publicRecord(revoked);
    },

    async list() {
      const values = await call('list', () => redis.hvals(hashKey));
      return values
        .map(parseStored)
        .filter((s): s is StoredKey => s !== null)
        .map(publicRecord)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    },

    async verify(presented) {
      const parsed = parseKey(presented);
      if (!parsed) return { ok: false, reason: 'malformed' };
      const stored = parseStored(await call('verify', () => redis.hget(hashKey, parsed.id)));
      // A known id with the wrong secret is "unknown" too: without the secret nobody learns
      // whether an id exists or was revoked.
      if (!stored || !hashesEqual(stored.hash, hashSecret(parsed.secret))) return { ok: false, reason: 'unknown' };
      if (stored.revokedAt !== null) return { ok: false, reason: 'revoked' };
      return { ok: true, id: stored.id, name: stored.name, scope: stored.scope };
    },

    async status(ids) {
      const out = new Map<string, KeyStatus>();
      const wanted = [...new Set(ids)].filter(isKeyId);
      for (const id of ids) out.set(id, 'unknown');
      if (wanted.length === 0) return out;
      const values = await call('status', () => redis.hmget(hashKey, ...wanted));
      wanted.forEach((id, i) => {
        const stored = parseStored(values[i]);
        if (stored) out.set(id, stored.revokedAt === null ? 'active' : 'revoked');
      });
      return out;
    },
  };
}
