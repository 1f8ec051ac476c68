import { describe, expect, it } from 'vitest';
import { loadStackConfig } from './config.js';
import { resolveLayout } from './layout.js';
import { formatScramArgs, renderClientEnv, subjectAltNames } from './secure.js';

const secure = resolveLayout(loadStackConfig({}, { BITPREDICT_STACK_KAFKA_SECURE_PORT: '19094' }), '/repo').kafka.secure;

describe('the secure listener files', () => {
  it('lives in <stack dir>/secure, the SCRAM marker in the data folder (purged with it)', () => {
    expect(secure.listen).toEqual({ host: '127.0.0.1', port: 19094 });
    expect(secure.caPem).toBe('/repo/.stack/secure/ca.pem');
    expect(secure.clientEnv).toBe('/repo/.stack/secure/client.env');
    expect(secure.scramMarker.startsWith('/repo/.stack/kafka/data/')).toBe(true);
  });

  it('writes a client env file with the keys a deployment sets, the password by file', () => {
    const env = renderClientEnv(secure);
    expect(env).toContain('BITPREDICT_KAFKA_BROKERS=127.0.0.1:19094\n');
    expect(env).toContain('BITPREDICT_KAFKA_SECURITY_PROTOCOL=SASL_SSL\n');
    expect(env).toContain('BITPREDICT_KAFKA_SSL_CA_FILE=/repo/.stack/secure/ca.pem\n');
    expect(env).toContain('BITPREDICT_KAFKA_SASL_PASSWORD_FILE=/repo/.stack/secure/password\n');
  });

  it('names the listen host in the certificate, and adds both SCRAM mechanisms at format time', () => {
    expect(subjectAltNames('127.0.0.1')).toBe('IP:127.0.0.1,DNS:localhost');
    expect(subjectAltNames('kafka.local')).toBe('DNS:kafka.local,DNS:localhost,IP:127.0.0.1');
    expect(formatScramArgs(secure, { keystorePassword: 'k', userPassword: 'pw' })).toEqual([
      '--add-scram',
      'SCRAM-SHA-256=[name=bitpredict,password=pw]',
      '--add-scram',
      'SCRAM-SHA-512=[name=bitpredict,password=pw]',
    ]);
  });
});
