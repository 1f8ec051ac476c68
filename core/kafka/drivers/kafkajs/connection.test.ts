import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../logger.js';
import { PLAINTEXT } from '../../driver.js';
import { kafkaJsConfig, kafkaJsSecurity } from './connection.js';

describe('kafkaJsSecurity', () => {
  it('gives neither ssl nor sasl for a plaintext listener', () => {
    expect(kafkaJsSecurity(PLAINTEXT)).toEqual({});
  });

  it('passes TLS material and the verification flag as kafkajs ssl options', () => {
    expect(kafkaJsSecurity({ tls: { ca: 'CA', cert: 'CERT', key: 'KEY', rejectUnauthorized: true }, sasl: null })).toEqual({
      ssl: { ca: 'CA', cert: 'CERT', key: 'KEY', rejectUnauthorized: true },
    });
    // No CA: the system's CAs (kafkajs is given no `ca` key at all).
    expect(kafkaJsSecurity({ tls: { rejectUnauthorized: false }, sasl: null })).toEqual({ ssl: { rejectUnauthorized: false } });
  });

  it('maps the SASL mechanisms with username and password', () => {
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
      expect(kafkaJsSecurity({ tls: null, sasl: { mechanism, username: 'u', password: 'p' } })).toEqual({ sasl: { mechanism, username: 'u', password: 'p' } });
    }
  });

  it('asks the token source again at every OAUTHBEARER authentication', async () => {
    let n = 0;
    const out = kafkaJsSecurity({ tls: { rejectUnauthorized: true }, sasl: { mechanism: 'oauthbearer', token: async () => `token-${++n}` } });
    expect(out.ssl).toEqual({ rejectUnauthorized: true });
    const sasl = out.sasl as { mechanism: string; oauthBearerProvider: () => Promise<{ value: string }> };
    expect(sasl.mechanism).toBe('oauthbearer');
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'token-1' });
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'token-2' });
  });
});

describe('kafkaJsConfig', () => {
  it('keeps the timeouts and connection retries, and the log level', () => {
    const logger = createLogger({ level: 'info' });
    const config = kafkaJsConfig({ brokers: ['b:9092'], clientId: 'c', connectRetries: 2, security: PLAINTEXT, logger });
    expect(config).toMatchObject({
      brokers: ['b:9092'],
      clientId: 'c',
      connectionTimeout: 3000,
      requestTimeout: 30000,
      retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 5000 },
      // kafkajs is chatty at INFO: WARN unless debugging.
      logLevel: kafkajs.logLevel.WARN,
    });
    expect(config).not.toHaveProperty('ssl');
    expect(
      kafkaJsConfig({ brokers: ['b:9092'], clientId: 'c', connectRetries: 2, security: { tls: { rejectUnauthorized: true }, sasl: null }, logger }).ssl,
    ).toEqual({
      rejectUnauthorized: true,
    });
  });
});
