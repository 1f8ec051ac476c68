// The one place that decides whether a request may proceed: REST routes (through the app's
// onRequest hook) and the WebSocket upgrade ask the same question and get the same answers.
// Order: Host (every request, public routes too), Origin (cheap, and it applies in open mode
// too), then the API key, then its scope.
//
// DNS rebinding: a page on evil.example whose name later resolves to 127.0.0.1 talks to the
// gateway as a same-origin page: its requests carry Host evil.example and Origin
// http://evil.example. The Host allowlist refuses them, and an Origin is never trusted because it
// equals the Host: only loopback and IP-address pages (which only the gateway itself can serve on
// its own address and port) and the configured origins are.
import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { parseKey, redactKey, type KeyStore, type Scope, type VerifyResult } from './keys.js';

export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /** Path and query as received (req.url); the api_key query parameter is read from it. */
  url: string;
  /** Address of the TCP peer (not X-Forwarded-For): open mode answers loopback peers only. */
  remoteAddress?: string | undefined;
  /** The WebSocket upgrade: the only request on which the api_key query parameter counts. */
  upgrade?: boolean;
}

export interface Principal {
  /** null in open mode. */
  keyId: string | null;
  scope: Scope;
  name: string;
}

export type AuthFailureCode = 'ERR_UNAUTHENTICATED' | 'ERR_FORBIDDEN' | 'ERR_ORIGIN_FORBIDDEN' | 'ERR_HOST_FORBIDDEN' | 'ERR_UNAVAILABLE';

export type AuthOutcome = { ok: true; principal: Principal } | { ok: false; status: 401 | 403 | 503; code: AuthFailureCode; message: string };

export type AuthFailure = Extract<AuthOutcome, { ok: false }>;

export interface AuthGuard {
  check(req: AuthRequest, need: Scope): Promise<AuthOutcome>;
  /** null when the Host header names a host this gateway serves, else the refusal (every request, public routes too). */
  checkHost(req: Pick<AuthRequest, 'headers' | 'url'>): AuthFailure | null;
  /** The Origin to echo in Access-Control-Allow-Origin: a configured origin, else null (no CORS headers). */
  corsOrigin(headers: IncomingHttpHeaders): string | null;
}

export interface AuthGuardDeps {
  mode: 'keys' | 'open';
  store: KeyStore;
  /** Browser origins of other sites allowed to call (CORS) and open WebSockets. */
  allowedOrigins: readonly string[];
  /** The gateway's own public origin (https://bitpredict.example.com); '' or absent: none configured. */
  publicOrigin?: string;
  /** Host names served besides the defaults (loopback names, IP addresses, the hosts of the origins above); '*' turns the check off. */
  allowedHosts?: readonly string[];
  logger: Logger;
}

/** The guard's settings as configured (BITPREDICT_GATEWAY_AUTH, _ALLOWED_ORIGINS, _PUBLIC_ORIGIN, _ALLOWED_HOSTS). */
export function guardSettingsOf(
  gw: Pick<Config['gateway'], 'auth' | 'allowedOrigins' | 'publicOrigin' | 'allowedHosts'>,
): Pick<AuthGuardDeps, 'mode' | 'allowedOrigins' | 'publicOrigin' | 'allowedHosts'> {
  return { mode: gw.auth, allowedOrigins: gw.allowedOrigins, publicOrigin: gw.publicOrigin, allowedHosts: gw.allowedHosts };
}

// Open mode serves streams and data without a key, never key management: minting a key needs an
// admin key even there, so a page or a neighbour that reaches an open gateway cannot make one.
const OPEN_PRINCIPAL: Principal = { keyId: null, scope: 'read', name: 'open-mode' };

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

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

/** The host name of a Host header or URL host (lower case, no port, IPv6 without brackets); null if malformed. */
export function hostNameOf(host: string): string | null {
  // Only what a Host header may hold: a name or address and a port (no userinfo, path or spaces).
  if (!/^[A-Za-z0-9.\-_[\]:]+$/.test(host)) return null;
  try {
    const name = new URL(`http://${host}`).hostname.replace(/\.$/, '');
    if (name === '') return null;
    return name.startsWith('[') ? name.slice(1, -1) : name;
  } catch {
    return null;
  }
}

/** localhost, *.localhost, 127.0.0.0/8 and ::1: names only this machine answers. */
export function isLoopbackHost(name: string): boolean {
  const n = name.toLowerCase().replace(/^\[|\]$/g, '');
  return LOOPBACK_NAMES.has(n) || n.endsWith('.localhost') || (isIP(n) === 4 && n.startsWith('127.')) || n === '::ffff:127.0.0.1';
}

/** A peer address (socket.remoteAddress) on this machine. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

type Credential = { ok: true; key: string | null } | { ok: false; message: string };

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

// Browsers cannot set headers on a WebSocket, hence the query parameter there, and only there: a
// key in a REST URL ends up in proxy logs, browser history and Referer headers.
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
  if (q >= 0 && new URLSearchParams(req.url.slice(q + 1)).has('api_key')) {
    if (req.upgrade !== true) {
      return {
        ok: false,
        message:
          'api_key in the query string is accepted only on the WebSocket upgrade (/ws); send the key as "Authorization: Bearer <key>" or "X-API-Key: <key>"',
      };
    }
    const fromQuery = new URLSearchParams(req.url.slice(q + 1)).get('api_key');
    if (fromQuery) found.push(fromQuery);
  }
  if (new Set(found).size > 1) return { ok: false, message: 'different API keys in Authorization, X-API-Key and api_key; send one' };
  return { ok: true, key: found[0] ?? null };
}

/** The Host policy: loopback names, IP addresses, the configured origins' hosts and the listed names. */
function createHostPolicy(deps: Pick<AuthGuardDeps, 'allowedOrigins' | 'publicOrigin' | 'allowedHosts'>) {
  const any = (deps.allowedHosts ?? []).includes('*');
  const names = new Set<string>();
  for (const h of deps.allowedHosts ?? []) {
    const n = hostNameOf(h.trim());
    if (n !== null) names.add(n);
  }
  for (const o of [...deps.allowedOrigins, deps.publicOrigin ?? '']) {
    const normal = normaliseOrigin(o);
    const name = normal === null ? null : hostNameOf(new URL(normal).host);
    if (name !== null) names.add(name);
  }
  return (host: string | undefined): boolean => {
    if (any) return true;
    // HTTP/1.1 requires Host; a request without one names no host to check (HTTP/1.0 tools).
    if (host === undefined) return true;
    const name = hostNameOf(host);
    if (name === null) return false;
    // An IP address cannot be rebound: a page whose URL names an address was served from it.
    return isLoopbackHost(name) || isIP(name) !== 0 || names.has(name);
  };
}

export function createAuthGuard(deps: AuthGuardDeps): AuthGuard {
  const log = deps.logger.child({ part: 'auth' });
  const configured = new Set([...deps.allowedOrigins, deps.publicOrigin ?? ''].filter((o) => o !== '').map((o) => normaliseOrigin(o) ?? o));
  const hostAllowed = createHostPolicy(deps);

  function originAllowed(req: AuthRequest, origin: string): boolean {
    const normal = normaliseOrigin(origin);
    // "null" (sandboxed frames, file: pages) and garbage match only if listed verbatim.
    if (normal === null) return configured.has(origin);
    if (configured.has(normal)) return true;
    // The gateway's own dashboard opened on a loopback name or an IP address: its Origin is
    // http(s)://<Host>, and no other site can serve a page on that name and port. A Host that is
    // a DNS name must be configured (BITPREDICT_GATEWAY_PUBLIC_ORIGIN): a rebound name would match too.
    const host = single(req.headers.host);
    if (!host) return false;
    const name = hostNameOf(host);
    if (name === null || !(isLoopbackHost(name) || isIP(name) !== 0)) return false;
    return normaliseOrigin(`http://${host}`) === normal || normaliseOrigin(`https://${host}`) === normal;
  }

  function refuse(req: AuthRequest, status: 401 | 403 | 503, code: AuthFailureCode, message: string, keyId: string | null = null): AuthFailure {
    log.debug({ url: redactUrl(req.url), keyId, code }, 'request refused');
    return { ok: false, status, code, message };
  }

  async function keyCheck(req: AuthRequest, need: Scope): Promise<AuthOutcome> {
    const cred = presentedKey(req);
    if (!cred.ok) return refuse(req, 401, 'ERR_UNAUTHENTICATED', cred.message);
    if (cred.key === null) {
      const why = deps.mode === 'open' ? 'API key required (open mode serves streams and data without one, never key management)' : 'API key required';
      return refuse(req, 401, 'ERR_UNAUTHENTICATED', why);
    }
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
  }

  return {
    checkHost(req) {
      const host = single(req.headers.host);
      if (hostAllowed(host)) return null;
      return refuse(
        req,
        403,
        'ERR_HOST_FORBIDDEN',
        `Host ${JSON.stringify(host ?? '')} is not served here (not a loopback name, an IP address, the host of BITPREDICT_GATEWAY_PUBLIC_ORIGIN or BITPREDICT_GATEWAY_ALLOWED_ORIGINS, nor in BITPREDICT_GATEWAY_ALLOWED_HOSTS)`,
      );
    },

    corsOrigin(headers) {
      const origin = single(headers.origin);
      if (origin === undefined) return null;
      const normal = normaliseOrigin(origin);
      return normal !== null && configured.has(normal) ? origin : null;
    },

    async check(req, need) {
      const origin = single(req.headers.origin);
      if (origin !== undefined && !originAllowed(req, origin)) {
        return refuse(
          req,
          403,
          'ERR_ORIGIN_FORBIDDEN',
          `Origin ${origin} is not allowed (not BITPREDICT_GATEWAY_PUBLIC_ORIGIN, not in BITPREDICT_GATEWAY_ALLOWED_ORIGINS, not a loopback page of this gateway)`,
        );
      }
      if (deps.mode === 'open' && need === 'read') {
        // Open mode is for a gateway bound to loopback (the configuration refuses anything else);
        // this holds it even where the bind address was overridden: peers elsewhere need a key.
        if (isLoopbackAddress(req.remoteAddress)) return { ok: true, principal: OPEN_PRINCIPAL };
        return keyCheck(req, need);
      }
      return keyCheck(req, need);
    },
  };
}
