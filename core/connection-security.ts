// Basic auth / ACL login and TLS of the schema registry and Redis, from the registry and redis
// sections of the configuration (BITPREDICT_REGISTRY_*, BITPREDICT_REDIS_*), the way
// core/kafka/security.ts reads Kafka's: the CA, certificate, key and password files are read
// once, at start; settings that do not fit together fail fast with ERR_CONFIG_INVALID listing
// every problem; and the result carries the settings (keys and paths, never a secret) that error
// messages name. URLs that hold a password are shown with it replaced by ***.
import { readFileSync } from 'node:fs';
import type { Config } from './config.js';
import { BitPredictError, errorMessage } from './errors.js';
import { addSecrets, decodedOr, redactUrl } from './redact.js';

/** Node's tls options for a client: what https.Agent and ioredis take. */
export interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

/** What error messages name: the settings to check, as configured (never a secret). */
export interface SecurityOrigin {
  /** The auth settings ("BITPREDICT_REGISTRY_USERNAME=u, BITPREDICT_REGISTRY_PASSWORD_FILE=/p"). */
  auth: string;
  /** The TLS settings ("BITPREDICT_REDIS_SSL_CA_FILE=/ca.pem"), or the key to set when TLS is off. */
  tls: string;
}

export interface RegistryConnection {
  /** The base URL without user information. */
  url: string;
  /** The URL as messages and logs show it (no user information at all). */
  shownUrl: string;
  auth: { username: string; password: string } | null;
  tls: ClientTls | null;
  origin: SecurityOrigin;
}

export interface RedisConnection {
  /** The URL as given (ioredis reads the host, port, db, user and password from it). */
  url: string;
  /** The URL as messages and logs show it: the password replaced by ***. */
  shownUrl: string;
  /** From BITPREDICT_REDIS_USERNAME / _PASSWORD(_FILE); undefined: what the URL says. */
  username?: string;
  password?: string;
  tls: ClientTls | null;
  origin: SecurityOrigin;
}

export interface ReadDeps {
  /** Reads a file as UTF-8 (tests may pass a fake); default: fs.readFileSync. */
  readFile?: (path: string) => string;
}

/** Reads a file as UTF-8: the default of every `readFile` dependency here and in core/kafka/security.ts. */
export const defaultRead = (path: string): string => readFileSync(path, 'utf8');

export { redactUrl } from './redact.js';

/** Why a file could not be read, without its contents: "ENOENT: no such file or directory". */
export function readProblem(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = errorMessage(err).replace(/, open '.*'$/, '');
  return typeof code === 'string' && !message.startsWith(code) ? `${code}: ${message}` : message;
}

/** A secret or PEM read from a file: one trailing line break dropped (echo and editors add one). */
export const trimNewline = (text: string): string => text.replace(/\r?\n$/, '');

/** Reads the file a `*_FILE` key names; undefined (and a problem naming key and path) when unreadable or not what it should hold. */
export type KeyReader = (key: string, path: string, looksRight?: (text: string) => string | null) => string | undefined;

export function keyReader(read: (path: string) => string, problems: string[]): KeyReader {
  return (key, path, looksRight) => {
    let text: string;
    try {
      text = read(path);
    } catch (err) {
      problems.push(`${key}=${path} cannot be read (${readProblem(err)})`);
      return undefined;
    }
    const wrong = looksRight?.(text) ?? null;
    if (wrong !== null) {
      problems.push(`${key}=${path} ${wrong}`);
      return undefined;
    }
    return text;
  };
}

const pem = (label: RegExp, what: string) => (text: string) => (label.test(text) ? null : `is not a PEM file holding ${what}`);

/** The TLS file keys every client shares (`<prefix>_SSL_CA_FILE`, ...), as each config section declares them. */
export interface TlsSettings {
  sslCaFile: string;
  sslCertFile: string;
  sslKeyFile: string;
  sslVerify: boolean;
}

/**
 * The client TLS of `<prefix>_SSL_*` (Kafka, the registry, Redis): the CA, and the certificate and
 * key of mutual TLS, read as PEM; `origin` names the settings for error messages (never a secret).
 */
export function readClientTls(prefix: string, cfg: TlsSettings, readKey: KeyReader, problems: string[]): { tls: ClientTls; origin: string } {
  const k = { ca: `${prefix}_SSL_CA_FILE`, cert: `${prefix}_SSL_CERT_FILE`, key: `${prefix}_SSL_KEY_FILE`, verify: `${prefix}_SSL_VERIFY` };
  const tls: ClientTls = { rejectUnauthorized: cfg.sslVerify };
  if (cfg.sslCaFile !== '') {
    const ca = readKey(k.ca, cfg.sslCaFile, pem(/-----BEGIN CERTIFICATE-----/, 'a certificate'));
    if (ca !== undefined) tls.ca = ca;
  }
  if ((cfg.sslCertFile === '') !== (cfg.sslKeyFile === '')) {
    problems.push(`${k.cert} and ${k.key} go together (mutual TLS): set both or neither`);
  } else if (cfg.sslCertFile !== '') {
    const cert = readKey(k.cert, cfg.sslCertFile, pem(/-----BEGIN CERTIFICATE-----/, 'a certificate'));
    const key = readKey(k.key, cfg.sslKeyFile, pem(/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/, 'an unencrypted private key'));
    if (cert !== undefined) tls.cert = cert;
    if (key !== undefined) tls.key = key;
  }
  const origin = [
    cfg.sslCaFile === '' ? `${k.ca} (empty: the system's CAs)` : `${k.ca}=${cfg.sslCaFile}`,
    ...(cfg.sslCertFile === '' ? [] : [`${k.cert}=${cfg.sslCertFile}`, `${k.key}=${cfg.sslKeyFile}`]),
    ...(cfg.sslVerify ? [] : [`${k.verify}=false`]),
  ].join(', ');
  return { tls, origin };
}

interface KeyedSettings {
  password: string;
  passwordFile: string;
  sslCaFile: string;
  sslCertFile: string;
  sslKeyFile: string;
  sslVerify: boolean;
}

/** The TLS and password part both services share; `prefix` is BITPREDICT_REGISTRY or BITPREDICT_REDIS. */
function readShared(
  prefix: string,
  cfg: KeyedSettings,
  usesTls: boolean,
  tlsHint: string,
  problems: string[],
  read: (path: string) => string,
): { tls: ClientTls | null; tlsOrigin: string; password: string | undefined; passwordFrom: string | undefined } {
  const readKey = keyReader(read, problems);
  const k = {
    ca: `${prefix}_SSL_CA_FILE`,
    cert: `${prefix}_SSL_CERT_FILE`,
    key: `${prefix}_SSL_KEY_FILE`,
    verify: `${prefix}_SSL_VERIFY`,
    password: `${prefix}_PASSWORD`,
    passwordFile: `${prefix}_PASSWORD_FILE`,
  };
  let tls: ClientTls | null = null;
  let tlsOrigin = tlsHint;
  if (!usesTls) {
    // Set without TLS they are a mistake (usually the URL's scheme), not something to ignore.
    for (const [key, set] of [
      [k.ca, cfg.sslCaFile !== ''],
      [k.cert, cfg.sslCertFile !== ''],
      [k.key, cfg.sslKeyFile !== ''],
      [k.verify, !cfg.sslVerify],
    ] as const) {
      if (set) problems.push(`${key} is set but ${tlsHint}`);
    }
  } else {
    ({ tls, origin: tlsOrigin } = readClientTls(prefix, cfg, readKey, problems));
  }

  let password: string | undefined;
  let passwordFrom: string | undefined;
  if (cfg.password !== '' && cfg.passwordFile !== '') {
    problems.push(`${k.password} and ${k.passwordFile} are both set: set one of them`);
  } else if (cfg.passwordFile !== '') {
    passwordFrom = `${k.passwordFile}=${cfg.passwordFile}`;
    const text = readKey(k.passwordFile, cfg.passwordFile, (t) => (trimNewline(t) === '' ? 'is empty' : null));
    if (text !== undefined) password = trimNewline(text);
  } else if (cfg.password !== '') {
    passwordFrom = k.password;
    password = cfg.password;
  }
  return { tls, tlsOrigin, password, passwordFrom };
}

function fail(what: string, problems: string[]): never {
  throw new BitPredictError('ERR_CONFIG_INVALID', `invalid ${what} configuration: ${problems.join('; ')}`, { details: { problems } });
}

/**
 * The registry's basic auth and TLS from BITPREDICT_REGISTRY_*. User information in the URL
 * (https://user:secret@host/...) is taken as basic auth too, for URLs copied from a provider's
 * console, and removed from the URL the client dials and every message shows.
 */
export function registryConnectionFromConfig(cfg: Config['registry'], deps: ReadDeps = {}): RegistryConnection {
  const problems: string[] = [];
  let url: URL;
  try {
    url = new URL(cfg.url);
  } catch (err) {
    throw new BitPredictError('ERR_CONFIG_INVALID', `BITPREDICT_REGISTRY_URL=${redactUrl(cfg.url)} is not a URL`, { cause: err });
  }
  const usesTls = url.protocol === 'https:';
  const shared = readShared(
    'BITPREDICT_REGISTRY',
    cfg,
    usesTls,
    `BITPREDICT_REGISTRY_URL=${redactUrl(cfg.url, { dropUser: true })} does not use TLS (use https://)`,
    problems,
    deps.readFile ?? defaultRead,
  );
  const urlUser = decodeURIComponent(url.username);
  const urlPassword = decodeURIComponent(url.password);
  let auth: RegistryConnection['auth'] = null;
  let authOrigin = 'BITPREDICT_REGISTRY_USERNAME and BITPREDICT_REGISTRY_PASSWORD_FILE (not set: no auth)';
  if (urlUser !== '' || urlPassword !== '') {
    if (cfg.username !== '' || shared.passwordFrom !== undefined) {
      problems.push('BITPREDICT_REGISTRY_URL holds a user and password and BITPREDICT_REGISTRY_USERNAME or _PASSWORD(_FILE) are set too: use one of the two');
    } else {
      auth = { username: urlUser, password: urlPassword };
      authOrigin = 'the user and password in BITPREDICT_REGISTRY_URL';
    }
  } else if (cfg.username !== '' || shared.passwordFrom !== undefined) {
    if (cfg.username === '')
      problems.push(`${shared.passwordFrom?.replace(/=.*/, '') ?? 'BITPREDICT_REGISTRY_PASSWORD'} is set but BITPREDICT_REGISTRY_USERNAME is empty`);
    else if (shared.passwordFrom === undefined)
      problems.push('BITPREDICT_REGISTRY_USERNAME is set but neither BITPREDICT_REGISTRY_PASSWORD_FILE nor BITPREDICT_REGISTRY_PASSWORD');
    else if (shared.password !== undefined) {
      auth = { username: cfg.username, password: shared.password };
      authOrigin = `BITPREDICT_REGISTRY_USERNAME=${cfg.username}, ${shared.passwordFrom}`;
    }
  }
  addSecrets([urlPassword, shared.password]);
  if (problems.length > 0) fail('schema registry', problems);
  url.username = '';
  url.password = '';
  const clean = url.toString().replace(/\/+$/, '');
  return { url: clean, shownUrl: clean, auth, tls: shared.tls, origin: { auth: authOrigin, tls: shared.tlsOrigin } };
}

/**
 * Redis' ACL login and TLS from BITPREDICT_REDIS_*. rediss:// turns TLS on (as ioredis reads it);
 * a user or password in the URL still works, but not together with the keys.
 */
export function redisConnectionFromConfig(cfg: Config['redis'], deps: ReadDeps = {}): RedisConnection {
  const problems: string[] = [];
  let url: URL;
  try {
    url = new URL(cfg.url);
  } catch (err) {
    throw new BitPredictError('ERR_CONFIG_INVALID', `BITPREDICT_REDIS_URL=${redactUrl(cfg.url)} is not a URL`, { cause: err });
  }
  const shownUrl = redactUrl(cfg.url);
  addSecrets([url.password, decodedOr(url.password)]);
  const usesTls = url.protocol === 'rediss:';
  const shared = readShared(
    'BITPREDICT_REDIS',
    cfg,
    usesTls,
    `BITPREDICT_REDIS_URL=${shownUrl} does not use TLS (use rediss://)`,
    problems,
    deps.readFile ?? defaultRead,
  );
  const out: RedisConnection = { url: cfg.url, shownUrl, tls: shared.tls, origin: { auth: '', tls: shared.tlsOrigin } };
  const urlHasLogin = url.username !== '' || url.password !== '';
  if (urlHasLogin && (cfg.username !== '' || shared.passwordFrom !== undefined)) {
    problems.push('BITPREDICT_REDIS_URL holds a user or password and BITPREDICT_REDIS_USERNAME or _PASSWORD(_FILE) are set too: use one of the two');
  } else if (urlHasLogin) {
    out.origin.auth = `the user and password in BITPREDICT_REDIS_URL=${shownUrl}`;
  } else {
    if (cfg.username !== '' && shared.passwordFrom === undefined) {
      problems.push('BITPREDICT_REDIS_USERNAME is set but neither BITPREDICT_REDIS_PASSWORD_FILE nor BITPREDICT_REDIS_PASSWORD');
    }
    if (cfg.username !== '') out.username = cfg.username;
    if (shared.password !== undefined) out.password = shared.password;
    out.origin.auth =
      shared.passwordFrom === undefined
        ? 'BITPREDICT_REDIS_USERNAME and BITPREDICT_REDIS_PASSWORD_FILE (not set: no login)'
        : [cfg.username === '' ? 'BITPREDICT_REDIS_USERNAME (empty: the default user)' : `BITPREDICT_REDIS_USERNAME=${cfg.username}`, shared.passwordFrom].join(
            ', ',
          );
  }
  addSecrets([shared.password]);
  if (problems.length > 0) fail('Redis', problems);
  return out;
}
