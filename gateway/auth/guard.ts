// The one place that decides whether a request may proceed: REST routes (through the app's
// onRequest hook) and the WebSocket upgrade ask the same question and get the same answers.
// Order: Origin first (cheap, and it applies in open mode too), then the API key, then its scope.
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../../core/logger.js';
import { parseKey, redactKey, type KeyStore, type Scope, type VerifyResult } from './keys.js';

export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /** Path and query as received (req.url); the api_key query parameter is read from it. */
  url: string;
  /** The gateway's public origin when it is known better than the Host header says (behind a proxy). */
  hostOrigin?: string;
}

export interface Principal {
  /** null in open mode. */
  keyId: string | null;
  scope: Scope;
  name: string;
}

export type AuthFailureCode = 'ERR_UNAUTHENTICATED' | 'ERR_FORBIDDEN' | 'ERR_ORIGIN_FORBIDDEN' | 'ERR_UNAVAILABLE';

export type AuthOutcome = { ok: true; principal: Principal } | { ok: false; status: 401 | 403 | 503; code: AuthFailureCode; message: string };

export interface AuthGuard {
  check(req: AuthRequest, need: Scope): Promise<AuthOutcome>;
}

export interface AuthGuardDeps {
  mode: 'keys' | 'open';
  store: KeyStore;
  allowedOrigins: readonly string[];
  logger: Logger;
}

const OPEN_PRINCIPAL: Principal = { keyId: null, scope: 'admin', name: 'open-mode' };

/** admin includes read. */
export function scopeAllows(have: Scope, need: Scope): boolean {
  return have === 'admin' || need === 'read';
}

/** The URL with the api_key query value replaced by ***, for logs. */
export function redactUrl(url: string): string {
  return redactKey(url.replace(/([?&]api_key=)[^&#]*/gi, '$1***'));
}

/** scheme://host[:port] in the form browsers send in Origin (lower case, default port dropped); null if not an origin. */
export function normaliseOrigin(s: string): string | null {
  try {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.origin;
  } catch {
    return null;
  }
}

type Credential = { ok: true; key: string | null } | { ok: false; message: string };

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

// Browsers cannot set headers on a WebSocket, hence the query parameter; scripts use a header.
function presentedKey(req: AuthRequest): Credential {
  const found: string[] = [];
  const auth = single(req.headers.authorization);
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m?.[1]) return { ok: false, message: 'Authorization header must be "Bearer <API key>"' };
    found.push(m[1]);
  }
  const header = single(req.headers['x-api-key'])?.trim();
  if (header) found.push(header);
  const q = req.url.indexOf('?');
  if (q >= 0) {
    const fromQuery = new URLSearchParams(req.url.slice(q + 1)).get('api_key');
    if (fromQuery) found.push(fromQuery);
  }
  if (new Set(found).size > 1) return { ok: false, message: 'different API keys in Authorization, X-API-Key and api_key; send one' };
  return { ok: true, key: found[0] ?? null };
}

export function createAuthGuard(deps: AuthGuardDeps): AuthGuard {
  const log = deps.logger.child({ part: 'auth' });
  const allowed = new Set(deps.allowedOrigins.map((o) => normaliseOrigin(o) ?? o));

  function originAllowed(req: AuthRequest, origin: string): boolean {
    const normal = normaliseOrigin(origin);
    // "null" (sandboxed frames, file: pages) and garbage match only if listed verbatim.
    if (normal === null) return allowed.has(origin);
    if (allowed.has(normal)) return true;
    if (req.hostOrigin !== undefined && normaliseOrigin(req.hostOrigin) === normal) return true;
    // A browser sets Host to the server it is talking to, so a page served by this gateway
    // sends an Origin equal to http(s)://<Host>; TLS may end at a proxy, so both schemes count.
    const host = single(req.headers.host);
    if (!host) return false;
    return normaliseOrigin(`http://${host}`) === normal || normaliseOrigin(`https://${host}`) === normal;
  }

  function refuse(req: AuthRequest, status: 401 | 403 | 503, code: AuthFailureCode, message: string, keyId: string | null = null): AuthOutcome {
    log.debug({ url: redactUrl(req.url), keyId, code }, 'request refused');
    return { ok: false, status, code, message };
  }

  return {
    async check(req, need) {
      const origin = single(req.headers.origin);
      if (origin !== undefined && !originAllowed(req, origin)) {
        return refuse(req, 403, 'ERR_ORIGIN_FORBIDDEN', `Origin ${origin} is not allowed (not this gateway and not in BITPREDICT_GATEWAY_ALLOWED_ORIGINS)`);
      }
      if (deps.mode === 'open') return { ok: true, principal: OPEN_PRINCIPAL };

      const cred = presentedKey(req);
      if (!cred.ok) return refuse(req, 401, 'ERR_UNAUTHENTICATED', cred.message);
      if (cred.key === null) return refuse(req, 401, 'ERR_UNAUTHENTICATED', 'API key required');
      const id = parseKey(cred.key)?.id ?? null;

      let result: VerifyResult;
      try {
        result = await deps.store.verify(cred.key);
      } catch (err) {
        log.warn({ err, keyId: id }, 'API key check failed: key store unavailable');
        return refuse(req, 503, 'ERR_UNAVAILABLE', 'API keys cannot be checked right now (key store unavailable); retry later', id);
      }
      if (!result.ok) {
        switch (result.reason) {
          case 'malformed':
            return refuse(req, 401, 'ERR_UNAUTHENTICATED', 'API key is malformed (expected bpk_<id>_<secret>)');
          case 'unknown':
            return refuse(req, 401, 'ERR_UNAUTHENTICATED', `API key ${id ?? ''} is not known`, id);
          case 'revoked':
            return refuse(req, 401, 'ERR_UNAUTHENTICATED', `API key ${id ?? ''} was revoked`, id);
        }
      }
      if (!scopeAllows(result.scope, need)) {
        return refuse(req, 403, 'ERR_FORBIDDEN', `API key ${result.id} has the ${result.scope} scope; this needs ${need}`, result.id);
      }
      return { ok: true, principal: { keyId: result.id, scope: result.scope, name: result.name } };
    },
  };
}
