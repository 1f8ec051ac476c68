// What a person sees when something is wrong: one clear line naming the error code and what to
// do, a non-zero exit code, and no stack trace.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/platform.js';

function cli(args: string[], env: Record<string, string>): { status: number | null; stderr: string; stdout: string } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    encoding: 'utf8',
    timeout: 90_000,
  });
  return { status: res.status, stderr: res.stderr, stdout: res.stdout };
}

function expectOneClearLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('bitpredict CLI error reporting', () => {
  it('an unreachable broker gives one ERR_KAFKA_UNREACHABLE line naming the setting (not the local stack: no stack:up hint)', () => {
    const r = cli(['topics', 'create'], { BITPREDICT_KAFKA_BROKERS: '127.0.0.1:1', BITPREDICT_LOG_LEVEL: 'silent' });
    expect(r.status).toBe(1);
    expectOneClearLine(r.stderr, /^bitpredict: ERR_KAFKA_UNREACHABLE: no Kafka broker answered at 127\.0\.0\.1:1 \(check BITPREDICT_KAFKA_BROKERS/);
    expect(r.stderr).not.toMatch(/stack:up/);
  });

  it('a missing data file gives one ERR_REPLAY_FILE line before connecting', () => {
    const r = cli(['replay'], { BITPREDICT_REPLAY_FILE: 'no-such-file.csv', BITPREDICT_DATA_DIR: '/nonexistent', BITPREDICT_KAFKA_BROKERS: '127.0.0.1:1' });
    expect(r.status).toBe(1);
    expectOneClearLine(
      r.stderr,
      /^bitpredict: ERR_REPLAY_FILE: file not found: \/nonexistent\/no-such-file\.csv \(BITPREDICT_REPLAY_FILE "no-such-file\.csv" in the data folder BITPREDICT_DATA_DIR "\/nonexistent"; change BITPREDICT_REPLAY_FILE or BITPREDICT_DATA_DIR\)/,
    );
  });

  it('a missing text file names the text setting, not the candle one', () => {
    const r = cli(['text-replay'], { BITPREDICT_TEXT_REPLAY_FILE: 'news.csv', BITPREDICT_DATA_DIR: '/nonexistent', BITPREDICT_KAFKA_BROKERS: '127.0.0.1:1' });
    expect(r.status).toBe(1);
    expectOneClearLine(
      r.stderr,
      /^bitpredict: ERR_REPLAY_FILE: file not found: \/nonexistent\/news\.csv \(BITPREDICT_TEXT_REPLAY_FILE "news\.csv" in the data folder/,
    );
    expect(r.stderr).not.toContain('BITPREDICT_REPLAY_FILE');
  });

  it('invalid configuration lists every bad key and exits 2', () => {
    const r = cli(['gateway'], { BITPREDICT_GATEWAY_PORT: 'eighty', BITPREDICT_KAFKA_BROKERS: 'nohostport', BITPREDICT_NOT_A_KEY: '1' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/BITPREDICT_GATEWAY_PORT: "eighty" is not an integer/);
    expect(r.stderr).toMatch(/BITPREDICT_KAFKA_BROKERS: "nohostport" is not host:port/);
    expect(r.stderr).toMatch(/BITPREDICT_NOT_A_KEY: unknown configuration key/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unreachable schema registry gives one ERR_REGISTRY_UNREACHABLE line', () => {
    const r = cli(['topics', 'create'], {
      BITPREDICT_REGISTRY_URL: 'http://127.0.0.1:1/apis/ccompat/v7',
      BITPREDICT_TOPIC_PREFIX: `t.cli-${Date.now()}.`,
      BITPREDICT_LOG_LEVEL: 'silent',
    });
    expect(r.status).toBe(1);
    expectOneClearLine(r.stderr, /^bitpredict: ERR_REGISTRY_UNREACHABLE: schema registry at http:\/\/127\.0\.0\.1:1\/apis\/ccompat\/v7 did not answer/);
  });

  it('a missing FinBERT model folder stops the sentiment processor with one ERR_CONFIG_INVALID line (and it exits)', () => {
    const prefix = `t.cli-fb-${Date.now()}.`;
    const r = cli(['sentiment'], {
      BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR: '/nonexistent/models',
      BITPREDICT_TOPIC_PREFIX: prefix,
      BITPREDICT_REDIS_KEY_PREFIX: `bp:test:${prefix}`,
      BITPREDICT_LOG_LEVEL: 'silent',
    });
    // Configuration errors exit 2, like invalid keys; before the fix the process printed this line and hung.
    expect(r.status).toBe(2);
    expectOneClearLine(r.stderr, /^bitpredict: ERR_CONFIG_INVALID: .*\/nonexistent\/models/);
  });

  it('an unknown command names the nearest commands and the help, and exits 2', () => {
    const r = cli(['frobnicate'], {});
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('bitpredict: unknown command "frobnicate"\nsee bitpredict --help\n');
    expect(cli(['dmeo'], {}).stderr).toMatch(/unknown command "dmeo" \(did you mean demo\?\)/);
  });
});
