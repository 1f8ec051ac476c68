// Secrets out of what a person or a log shipper sees (issue 17: "Redis and registry URLs with
// passwords appear in error messages"). Each connection error is provoked with a password in the
// URL or the settings (an invalid URL, Redis unreachable, Redis refusing the login, the registry
// unreachable, a Kafka SASL login the broker refuses) through the real CLI or the real clients;
// the password appears in no log line, error message or CLI output.
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/platform.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { createPlatform } from '../../core/runtime.js';
import { errorMessage } from '../../core/errors.js';

const PW = 'Leak-Me-Not-4242';

function cli(args: string[], env: Record<string, string>): { status: number | null; out: string } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BITPREDICT_LOG_LEVEL: 'debug', ...env },
    encoding: 'utf8',
    timeout: 90_000,
  });
  return { status: res.status, out: `${res.stdout}\n${res.stderr}` };
}

const brokers = process.env.BITPREDICT_KAFKA_BROKERS ?? '127.0.0.1:9092';
const redisUrl = new URL(process.env.BITPREDICT_REDIS_URL ?? 'redis://127.0.0.1:6379');

interface Case {
  what: string;
  args: string[];
  env: Record<string, string>;
  shows: RegExp;
}

describe('no password in CLI output, logs or errors', () => {
  it.each<Case>([
    { what: 'an invalid Redis URL', args: ['keys', 'list'], env: { BITPREDICT_REDIS_URL: `redis://:${PW}@127.0.0.1:notaport` }, shows: /BITPREDICT_REDIS_URL/ },
    { what: 'Redis unreachable', args: ['keys', 'list'], env: { BITPREDICT_REDIS_URL: `redis://:${PW}@127.0.0.1:1` }, shows: /ERR_REDIS_UNREACHABLE/ },
    {
      what: 'Redis refusing the login (URL)',
      args: ['keys', 'list'],
      env: { BITPREDICT_REDIS_URL: `redis://nobody-${Date.now()}:${PW}@${redisUrl.host}` },
      shows: /ERR_REDIS_AUTH/,
    },
    {
      what: 'Redis refusing the login (password key)',
      args: ['keys', 'list'],
      env: { BITPREDICT_REDIS_URL: `redis://${redisUrl.host}`, BITPREDICT_REDIS_USERNAME: `nobody-${Date.now()}`, BITPREDICT_REDIS_PASSWORD: PW },
      shows: /ERR_REDIS_AUTH/,
    },
    {
      what: 'a Kafka SASL login on a plaintext listener',
      args: ['topics', 'check'],
      env: {
        BITPREDICT_KAFKA_BROKERS: brokers,
        BITPREDICT_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
        BITPREDICT_KAFKA_SASL_MECHANISM: 'PLAIN',
        BITPREDICT_KAFKA_SASL_USERNAME: 'u',
        BITPREDICT_KAFKA_SASL_PASSWORD: PW,
      },
      shows: /bitpredict: ERR_/,
    },
  ])(
    '$what',
    ({ args, env, shows }) => {
      const r = cli(args, env);
      expect(r.status).not.toBe(0);
      expect(r.out).toMatch(shows);
      expect(r.out).not.toContain(PW);
      expect(r.out).not.toContain(encodeURIComponent(PW));
    },
    120_000,
  );

  it('the registry unreachable, with the password in its URL: the error and every log line', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'trace',
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString('utf8'));
          cb();
        },
      }),
    });
    const config = loadConfig(process.env, { BITPREDICT_REGISTRY_URL: `http://svc:${PW}@127.0.0.1:1/apis/ccompat/v7` });
    const platform = createPlatform({ config, logger, registry: createMetricsRegistry({ service: 'test', defaultMetrics: false }), clientId: 'redact' });
    let message = '';
    try {
      await platform.serde.registerAll();
    } catch (err) {
      message = errorMessage(err);
      logger.error({ err }, 'registry failed');
    }
    expect(message).not.toBe('');
    expect(message).not.toContain(PW);
    expect(lines.join('')).toContain('registry failed');
    expect(lines.join('')).not.toContain(PW);
  }, 60_000);
});
