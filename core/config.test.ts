import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, loadConfig } from './config.js';
import { BitPredictError } from './errors.js';

describe('loadConfig', () => {
  it('gives the documented defaults with an empty environment', () => {
    const c = loadConfig({});
    expect(c.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(c.registry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.consumer.guarantee).toBe('at-least-once');
    expect(c.replay).toMatchObject({ symbol: 'BTCUSDT', interval: '1h', rate: 0, from: null, to: null, limit: 0 });
    expect(c.instanceId).toMatch(/-\d+$/);
  });

  it('parses lists, numbers, enums and times; overrides win over the environment', () => {
    const c = loadConfig(
      {
        BITPREDICT_KAFKA_BROKERS: ' a:1 , b:2 ',
        BITPREDICT_REPLAY_RATE: '2.5',
        BITPREDICT_REPLAY_FROM: '2024-01-01T00:00:00Z',
        BITPREDICT_GATEWAY_PORT: '9000',
      },
      { BITPREDICT_GATEWAY_PORT: '9001', BITPREDICT_PROCESSING_GUARANTEE: 'exactly-once' },
    );
    expect(c.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(c.replay.rate).toBe(2.5);
    expect(c.replay.from).toBe(Date.UTC(2024, 0, 1));
    expect(c.gateway.port).toBe(9001);
    expect(c.consumer.guarantee).toBe('exactly-once');
  });

  it('lists every bad key in one ERR_CONFIG_INVALID error', () => {
    let err: unknown;
    try {
      loadConfig({
        BITPREDICT_GATEWAY_PORT: '70000',
        BITPREDICT_TOPIC_PARTITIONS: '1.5',
        BITPREDICT_LOG_LEVEL: 'loud',
        BITPREDICT_KAFKA_BROKERS: 'no-port',
        BITPREDICT_REDIS_URL: 'not a url',
        BITPREDICT_REPLAY_TO: 'yesterday',
        BITPREDICT_REPLAY_RATE: '-1',
        BITPREDICT_TYPO_KEY: 'x',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BitPredictError);
    const e = err as BitPredictError;
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    const problems = e.details?.problems as string[];
    expect(problems).toHaveLength(8);
    for (const key of ['GATEWAY_PORT', 'TOPIC_PARTITIONS', 'LOG_LEVEL', 'KAFKA_BROKERS', 'REDIS_URL', 'REPLAY_TO', 'REPLAY_RATE', 'TYPO_KEY']) {
      expect(e.message).toContain(`BITPREDICT_${key}`);
    }
  });

  it('refuses malformed forecast horizons with the reason', () => {
    expect(() => loadConfig({ BITPREDICT_FORECAST_HORIZONS: '1h:0,4' })).toThrow(
      /BITPREDICT_FORECAST_HORIZONS: "1h:0,4" is not valid: for 1h must be integers/,
    );
    expect(loadConfig({ BITPREDICT_FORECAST_HORIZONS: '1h:1,4' }).forecast.horizons).toBe('1h:1,4');
  });

  it('every default is itself valid', () => {
    const env = Object.fromEntries(Object.entries(CONFIG_KEYS).map(([k, spec]) => [k, spec.default]));
    expect(() => loadConfig(env)).not.toThrow();
  });
});

describe('keys owned by the stack command', () => {
  it('are not refused by the services, which leave them to `bitpredict stack`; other unknown keys still are', () => {
    expect(() => loadConfig({ BITPREDICT_STACK_DIR: '/tmp/x', BITPREDICT_STACK_KAFKA_HEAP: '1g' })).not.toThrow();
    expect(() => loadConfig({ BITPREDICT_STAK_DIR: '/tmp/x' })).toThrow(/BITPREDICT_STAK_DIR: unknown configuration key/);
  });
  it('refuses open mode on a bind address that is not loopback, naming both settings', () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'gateway.example']) {
      expect(() => loadConfig({ BITPREDICT_GATEWAY_AUTH: 'open', BITPREDICT_GATEWAY_HOST: host })).toThrow(
        new RegExp(`BITPREDICT_GATEWAY_AUTH=open needs a loopback BITPREDICT_GATEWAY_HOST .*not "${host.replace(/\./g, '\\.')}"`),
      );
    }
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', '[::1]', 'localhost']) {
      expect(loadConfig({ BITPREDICT_GATEWAY_AUTH: 'open', BITPREDICT_GATEWAY_HOST: host }).gateway.auth).toBe('open');
    }
    expect(loadConfig({ BITPREDICT_GATEWAY_AUTH: 'keys', BITPREDICT_GATEWAY_HOST: '0.0.0.0' }).gateway.host).toBe('0.0.0.0');
  });

  it('checks the gateway hardening keys', () => {
    expect(() => loadConfig({ BITPREDICT_GATEWAY_PUBLIC_ORIGIN: 'https://gw.example/path' })).toThrow(/BITPREDICT_GATEWAY_PUBLIC_ORIGIN: .* is not an origin/);
    expect(() => loadConfig({ BITPREDICT_GATEWAY_ALLOWED_HOSTS: 'gw.example:8080' })).toThrow(/BITPREDICT_GATEWAY_ALLOWED_HOSTS: .* is not a host name/);
    expect(() => loadConfig({ BITPREDICT_GATEWAY_HTTP_RATE: '-1' })).toThrow(/BITPREDICT_GATEWAY_HTTP_RATE/);
    const c = loadConfig({ BITPREDICT_GATEWAY_PUBLIC_ORIGIN: 'https://gw.example', BITPREDICT_GATEWAY_ALLOWED_HOSTS: 'a.example,*' });
    expect(c.gateway).toMatchObject({ publicOrigin: 'https://gw.example', allowedHosts: ['a.example', '*'], httpRate: 20, maxConnectionsPerKey: 100 });
  });
});
