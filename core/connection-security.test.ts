import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigKey } from './config.js';
import { redactUrl, redisConnectionFromConfig, registryConnectionFromConfig } from './connection-security.js';
import { isBitPredictError } from './errors.js';
import { registryError } from './serde/serde.js';
import { redisError } from './redis.js';
import { BitPredictError } from './errors.js';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
const FILES: Record<string, string> = { '/s/ca.pem': CERT, '/s/cert.pem': CERT, '/s/key.pem': KEY, '/s/pw': 'hunter2-secret\n', '/s/empty': '\n' };
const readFile = (path: string): string => {
  const text = FILES[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
  return text;
};

const cfg = (vars: Partial<Record<ConfigKey, string>>) => loadConfig({}, vars);

function problemsOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isBitPredictError(err) && err.code === 'ERR_CONFIG_INVALID') return err.message;
    throw err;
  }
  throw new Error('no error');
}

describe('registryConnectionFromConfig', () => {
  it('plain http with no auth is the default', () => {
    const c = registryConnectionFromConfig(cfg({}).registry, { readFile });
    expect(c).toMatchObject({ url: 'http://127.0.0.1:8081/apis/ccompat/v7', auth: null, tls: null });
  });

  it('reads basic auth from the password file and TLS files for https', () => {
    const c = registryConnectionFromConfig(
      cfg({
        BITPREDICT_REGISTRY_URL: 'https://reg.example:8443/apis/ccompat/v7/',
        BITPREDICT_REGISTRY_USERNAME: 'svc',
        BITPREDICT_REGISTRY_PASSWORD_FILE: '/s/pw',
        BITPREDICT_REGISTRY_SSL_CA_FILE: '/s/ca.pem',
        BITPREDICT_REGISTRY_SSL_CERT_FILE: '/s/cert.pem',
        BITPREDICT_REGISTRY_SSL_KEY_FILE: '/s/key.pem',
      }).registry,
      { readFile },
    );
    expect(c.url).toBe('https://reg.example:8443/apis/ccompat/v7');
    expect(c.auth).toEqual({ username: 'svc', password: 'hunter2-secret' });
    expect(c.tls).toEqual({ ca: CERT, cert: CERT, key: KEY, rejectUnauthorized: true });
    expect(c.origin.auth).toBe('BITPREDICT_REGISTRY_USERNAME=svc, BITPREDICT_REGISTRY_PASSWORD_FILE=/s/pw');
    expect(c.origin.tls).toContain('BITPREDICT_REGISTRY_SSL_CA_FILE=/s/ca.pem');
    expect(JSON.stringify(c.origin)).not.toContain('hunter2');
  });

  it('takes user information in the URL as basic auth and never shows it', () => {
    const c = registryConnectionFromConfig(cfg({ BITPREDICT_REGISTRY_URL: 'https://key:s3cr%40t@reg.example/apis/ccompat/v7' }).registry, { readFile });
    expect(c.auth).toEqual({ username: 'key', password: 's3cr@t' });
    expect(c.url).toBe('https://reg.example/apis/ccompat/v7');
    expect(c.shownUrl).not.toContain('s3cr');
  });

  it('lists every problem: TLS keys on http, a user without password, unreadable and empty files', () => {
    const m = problemsOf(() =>
      registryConnectionFromConfig(
        cfg({ BITPREDICT_REGISTRY_SSL_CA_FILE: '/s/ca.pem', BITPREDICT_REGISTRY_SSL_VERIFY: 'false', BITPREDICT_REGISTRY_USERNAME: 'svc' }).registry,
        { readFile },
      ),
    );
    expect(m).toContain('BITPREDICT_REGISTRY_SSL_CA_FILE is set but BITPREDICT_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7 does not use TLS');
    expect(m).toContain('BITPREDICT_REGISTRY_SSL_VERIFY is set');
    expect(m).toContain('BITPREDICT_REGISTRY_USERNAME is set but neither BITPREDICT_REGISTRY_PASSWORD_FILE nor BITPREDICT_REGISTRY_PASSWORD');
    const files = problemsOf(() =>
      registryConnectionFromConfig(
        cfg({
          BITPREDICT_REGISTRY_URL: 'https://r/x',
          BITPREDICT_REGISTRY_USERNAME: 'svc',
          BITPREDICT_REGISTRY_PASSWORD_FILE: '/s/empty',
          BITPREDICT_REGISTRY_SSL_CA_FILE: '/s/key.pem',
          BITPREDICT_REGISTRY_SSL_CERT_FILE: '/s/missing.pem',
        }).registry,
        { readFile },
      ),
    );
    expect(files).toContain('BITPREDICT_REGISTRY_PASSWORD_FILE=/s/empty is empty');
    expect(files).toContain('BITPREDICT_REGISTRY_SSL_CA_FILE=/s/key.pem is not a PEM file holding a certificate');
    expect(files).toContain('BITPREDICT_REGISTRY_SSL_CERT_FILE and BITPREDICT_REGISTRY_SSL_KEY_FILE go together');
    const both = problemsOf(() =>
      registryConnectionFromConfig(
        cfg({ BITPREDICT_REGISTRY_USERNAME: 'svc', BITPREDICT_REGISTRY_PASSWORD: 'x', BITPREDICT_REGISTRY_PASSWORD_FILE: '/s/pw' }).registry,
        { readFile },
      ),
    );
    expect(both).toContain('BITPREDICT_REGISTRY_PASSWORD and BITPREDICT_REGISTRY_PASSWORD_FILE are both set');
    expect(both).not.toContain('hunter2');
  });
});

describe('redisConnectionFromConfig', () => {
  it('reads the ACL user, password file and TLS files for rediss://', () => {
    const c = redisConnectionFromConfig(
      cfg({
        BITPREDICT_REDIS_URL: 'rediss://127.0.0.1:6380',
        BITPREDICT_REDIS_USERNAME: 'bp',
        BITPREDICT_REDIS_PASSWORD_FILE: '/s/pw',
        BITPREDICT_REDIS_SSL_CA_FILE: '/s/ca.pem',
      }).redis,
      { readFile },
    );
    expect(c).toMatchObject({ username: 'bp', password: 'hunter2-secret', tls: { ca: CERT, rejectUnauthorized: true } });
    expect(c.origin.auth).toBe('BITPREDICT_REDIS_USERNAME=bp, BITPREDICT_REDIS_PASSWORD_FILE=/s/pw');
  });

  it('keeps a password in the URL working, shown as ***, and refuses it beside the keys', () => {
    const c = redisConnectionFromConfig(cfg({ BITPREDICT_REDIS_URL: 'redis://:hunter2@127.0.0.1:6379' }).redis, { readFile });
    expect(c.shownUrl).toBe('redis://:***@127.0.0.1:6379');
    expect(c.password).toBeUndefined();
    const m = problemsOf(() =>
      redisConnectionFromConfig(cfg({ BITPREDICT_REDIS_URL: 'redis://:hunter2@127.0.0.1:6379', BITPREDICT_REDIS_PASSWORD_FILE: '/s/pw' }).redis, { readFile }),
    );
    expect(m).toContain('BITPREDICT_REDIS_URL holds a user or password');
    expect(m).not.toContain('hunter2');
  });

  it('refuses TLS keys without rediss:// and a user without a password', () => {
    const m = problemsOf(() =>
      redisConnectionFromConfig(cfg({ BITPREDICT_REDIS_SSL_CA_FILE: '/s/ca.pem', BITPREDICT_REDIS_USERNAME: 'bp' }).redis, { readFile }),
    );
    expect(m).toContain('BITPREDICT_REDIS_SSL_CA_FILE is set but BITPREDICT_REDIS_URL=redis://127.0.0.1:6379 does not use TLS (use rediss://)');
    expect(m).toContain('BITPREDICT_REDIS_USERNAME is set but neither');
  });
});

describe('redactUrl', () => {
  it('replaces the password, or drops the user information', () => {
    expect(redactUrl('redis://u:p@h:1/0')).toBe('redis://u:***@h:1/0');
    expect(redactUrl('https://u:p@h/x', { dropUser: true })).toBe('https://h/x');
    expect(redactUrl('not a url //u:p@h')).toBe('not a url //***@h');
  });
});

describe('error mapping of the registry and Redis', () => {
  const origin = { auth: 'BITPREDICT_REGISTRY_USERNAME=svc, BITPREDICT_REGISTRY_PASSWORD_FILE=/s/pw', tls: 'BITPREDICT_REGISTRY_SSL_CA_FILE=/s/ca.pem' };
  it('401 is ERR_REGISTRY_AUTH, an untrusted certificate ERR_REGISTRY_TLS, both naming the settings and not retryable', () => {
    const auth = registryError(Object.assign(new Error('Unauthorized'), { status: 401 }), { shownUrl: 'https://r/x', origin });
    expect(auth).toMatchObject({ code: 'ERR_REGISTRY_AUTH', retryable: false });
    expect(auth.message).toContain(origin.auth);
    const tls = registryError(Object.assign(new Error('test: status 400: self-signed certificate in certificate chain'), { status: 400 }), {
      shownUrl: 'https://r/x',
      origin,
    });
    expect(tls).toMatchObject({ code: 'ERR_REGISTRY_TLS', retryable: false });
    expect(tls.message).toContain('BITPREDICT_REGISTRY_SSL_CA_FILE=/s/ca.pem');
    expect(
      registryError(Object.assign(new Error('x: status 400: connect ECONNREFUSED 127.0.0.1:1'), { status: 400 }), { shownUrl: 'https://r/x', origin }).code,
    ).toBe('ERR_REGISTRY_UNREACHABLE');
  });

  it('WRONGPASS and NOPERM are ERR_REDIS_AUTH naming the settings; anything else falls through', () => {
    const conn = { shownUrl: 'rediss://h:1', origin: { auth: 'BITPREDICT_REDIS_USERNAME=bp, BITPREDICT_REDIS_PASSWORD_FILE=/s/pw', tls: 'x' } };
    const other = () => new BitPredictError('ERR_REDIS', 'other');
    const wrong = redisError(new Error('WRONGPASS invalid username-password pair or user is disabled.'), conn, other);
    expect(wrong).toMatchObject({ code: 'ERR_REDIS_AUTH', retryable: false });
    expect(wrong.message).toContain('BITPREDICT_REDIS_PASSWORD_FILE=/s/pw');
    expect(redisError(new Error("NOPERM this user has no permissions to run the 'set' command"), conn, other).message).toContain('ACL');
    expect(redisError(Object.assign(new Error('self-signed certificate'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), conn, other).code).toBe('ERR_REDIS_TLS');
    expect(redisError(new Error('ECONNREFUSED'), conn, other).code).toBe('ERR_REDIS');
  });
});
