import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { loadStackConfig } from './config.js';
import { renderServerProperties, resolveLayout } from './layout.js';
import { basicAuthMatches } from './registry-proxy.js';
import { renderSecureClientEnv, renderSecureRedisConf } from './secure-mode.js';

const layout = resolveLayout(loadStackConfig({ BITPREDICT_STACK_REGISTRY_SECURE_PORT: '18444', BITPREDICT_STACK_REDIS_SECURE_PORT: '16380' }), '/repo');

describe('secure mode of the local stack', () => {
  it('puts the proxy and the TLS Redis on their configured ports, the registry path kept', () => {
    expect(layout.secureMode.registryProxy.url).toBe('https://127.0.0.1:18444/apis/ccompat/v7');
    expect(layout.secureMode.registryProxy.target).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(layout.secureMode.redis.url).toBe('rediss://127.0.0.1:16380');
  });

  it('renders redis.conf with TLS only, the default user off and password hashes, never the passwords', () => {
    const conf = renderSecureRedisConf(layout, { user: 'pw-one', readOnly: 'pw-two' });
    expect(conf).toContain('port 0\ntls-port 16380\n');
    expect(conf).toContain('user default off');
    expect(conf).toContain(`user bitpredict on #${createHash('sha256').update('pw-one').digest('hex')} ~* &* +@all`);
    expect(conf).toMatch(/user bitpredict-readonly on #[0-9a-f]{64} ~\* &\* -@all \+@read/);
    expect(conf).not.toContain('pw-one');
    expect(conf).not.toContain('pw-two');
  });

  it('writes client settings for Kafka, the registry and Redis that name files, not secrets', () => {
    const env = renderSecureClientEnv(layout);
    expect(env).toContain('BITPREDICT_KAFKA_SECURITY_PROTOCOL=SASL_SSL');
    expect(env).toContain('BITPREDICT_REGISTRY_URL=https://127.0.0.1:18444/apis/ccompat/v7');
    expect(env).toContain(`BITPREDICT_REGISTRY_PASSWORD_FILE=${layout.secureMode.registryProxy.passwordFile}`);
    expect(env).toContain('BITPREDICT_REDIS_URL=rediss://127.0.0.1:16380');
    expect(env).toContain(`BITPREDICT_REDIS_SSL_CA_FILE=${layout.kafka.secure.caPem}`);
  });

  it('runs Kafka with the StandardAuthorizer and the plaintext principal as super user', () => {
    const props = renderServerProperties(layout, { keystorePassword: 'k', userPassword: 'u' });
    expect(props).toContain('authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n');
    expect(props).toContain('super.users=User:ANONYMOUS\n');
  });

  it('the proxy accepts only the exact user and password', () => {
    const basic = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;
    expect(basicAuthMatches(basic('bitpredict:s3cret'), 'bitpredict', 's3cret')).toBe(true);
    expect(basicAuthMatches(basic('bitpredict:s3cre'), 'bitpredict', 's3cret')).toBe(false);
    expect(basicAuthMatches(basic('other:s3cret'), 'bitpredict', 's3cret')).toBe(false);
    expect(basicAuthMatches(undefined, 'bitpredict', 's3cret')).toBe(false);
    expect(basicAuthMatches('Bearer abc', 'bitpredict', 's3cret')).toBe(false);
    expect(basicAuthMatches('Basic !!!not-base64', 'bitpredict', 's3cret')).toBe(false);
  });
});
