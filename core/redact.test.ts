// Secrets out of every text shown: URL passwords anywhere in a text, registered secrets in any
// form (as is, JSON-escaped, percent-encoded), configuration messages, log lines (with errors and
// their cause chains) and /readyz bodies.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { addSecrets, redactText, redactUrl } from './redact.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { redisConnectionFromConfig, registryConnectionFromConfig } from './connection-security.js';
import { startHealthServer } from './health.js';
import { createMetricsRegistry } from './metrics.js';

describe('redactText', () => {
  it('hides the password of every URL in a text, whatever the scheme, keeping the user', () => {
    expect(redactText('dial redis://:pw1234@h:6379/0 and rediss://u:p%40ss@h2 then http://user:s3cr@t@reg:8081/apis')).toBe(
      'dial redis://:***@h:6379/0 and rediss://u:***@h2 then http://user:***@reg:8081/apis',
    );
    expect(redactText('"url":"https://a:b@c/d","x":"kafka://model-artifacts/n/v"')).toBe('"url":"https://a:***@c/d","x":"kafka://model-artifacts/n/v"');
    expect(redactText('no secrets at http://host:80/path')).toBe('no secrets at http://host:80/path');
  });

  it('hides every registered secret, as is, JSON-escaped and percent-encoded; short values are not registered', () => {
    addSecrets(['pa"ss/w0rd\\x', 'ab', undefined]);
    expect(redactText('login pa"ss/w0rd\\x failed')).toBe('login *** failed');
    expect(redactText(JSON.stringify({ m: 'login pa"ss/w0rd\\x failed' }))).toBe('{"m":"login *** failed"}');
    expect(redactText(`redis://u@h/?password=${encodeURIComponent('pa"ss/w0rd\\x')}`)).toBe('redis://u@h/?password=***');
    expect(redactText('a tab and a cab')).toBe('a tab and a cab');
  });

  it('redactUrl keeps a URL usable for messages, and hides passwords of a text that is not a URL', () => {
    expect(redactUrl('redis://:pw@h:1')).toBe('redis://:***@h:1');
    expect(redactUrl('http://u:pw@h/x/', { dropUser: true })).toBe('http://h/x/');
    expect(redactUrl('redis://:pw9999@h:notaport')).not.toContain('pw9999');
  });
});

describe('secrets in configuration messages, logs and /readyz', () => {
  it('an invalid URL holding a password is refused without the password', () => {
    let message = '';
    try {
      loadConfig({ BITPREDICT_REDIS_URL: 'redis://:Cfg-Secret-1@127.0.0.1:notaport', BITPREDICT_REGISTRY_URL: 'http://u:Cfg-Secret-2@h:99999999/x' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/BITPREDICT_REDIS_URL: "redis:\/\/\*\*\*@127\.0\.0\.1:notaport" is not a URL/);
    expect(message).toMatch(/BITPREDICT_REGISTRY_URL/);
    expect(message).not.toMatch(/Cfg-Secret/);
  });

  it('log lines never carry a password read from the settings, in a message, an error, its cause or any field', () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString('utf8'));
          cb();
        },
      }),
    });
    // The connections register what they read: the Redis password from its key, the registry's from its URL.
    redisConnectionFromConfig(loadConfig({ BITPREDICT_REDIS_PASSWORD: 'Redis-Pw-77' }).redis);
    registryConnectionFromConfig(loadConfig({ BITPREDICT_REGISTRY_URL: 'http://svc:Reg-Pw-88@reg:8081/apis/ccompat/v7' }).registry);
    const cause = new Error('WRONGPASS Redis-Pw-77 is not valid for redis://svc:Other-Pw@h:6379');
    const err = new Error('registry at http://svc:Reg-Pw-88@reg:8081 answered 401', { cause });
    log.error({ err, url: 'http://svc:Reg-Pw-88@reg:8081', nested: { note: 'Redis-Pw-77' } }, `failed with Reg-Pw-88 and ${cause.message}`);
    const out = lines.join('');
    expect(out).toContain('failed with ***');
    expect(out).toContain('http://svc:***@reg:8081');
    for (const secret of ['Redis-Pw-77', 'Reg-Pw-88', 'Other-Pw']) expect(out).not.toContain(secret);
  });

  it('a /readyz body naming a failing connection carries no password', async () => {
    addSecrets(['Ready-Pw-99']);
    const health = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      registry: createMetricsRegistry({ service: 'test', defaultMetrics: false }),
      readiness: () => ({ ready: false, checks: { redis: 'Redis did not answer at redis://:Ready-Pw-99@h:1', auth: 'password Ready-Pw-99 refused' } }),
    });
    try {
      const body = await (await fetch(`http://127.0.0.1:${health.port}/readyz`)).text();
      expect(body).toContain('redis://:***@h:1');
      expect(body).not.toContain('Ready-Pw-99');
    } finally {
      await health.close();
    }
  });
});
