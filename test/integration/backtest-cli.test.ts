// `bitpredict backtest` as a researcher runs it, on the real stack: real candles and every real text
// file the files source reads (BACKTEST_TEXT_FILES) replayed into the topics, then the real CLI process. Two runs through Kafka give byte-identical JSON; a
// run from the files gives the same bytes but for where the data came from; future-dated records
// produced afterwards change nothing; a range the topics do not hold is refused with the range
// they do hold; a bad flag is a usage error.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, DATA_DIR, HOURLY_MERGED, REPO_ROOT, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { runReplay } from '../../producers/replay/service.js';
import { runTextReplay } from '../../producers/text/replay.js';
import type { Candle, TextItem } from '../../schemas/types.js';
import { BACKTEST_TEXT_FILES } from '../../cli/backtest.js';

const HOUR = 3_600_000;
const FROM = '2021-11-01T00:00:00Z';
const TO = '2021-11-15T00:00:00Z';
const WARMUP = 60;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`backtest did not finish: ${stderr.slice(-2000)}`));
    }, 120_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The result without where its events were read (source, provenance): what must not depend on it. */
function withoutOrigin(json: string): string {
  const r = JSON.parse(json) as { data: Record<string, unknown> };
  delete r.data.source;
  delete r.data.provenance;
  return JSON.stringify(r);
}

describe.skipIf(!hasSharedData(HOURLY_MERGED))('bitpredict backtest', () => {
  let tp: TestPlatform;
  let producer: Producer;
  let out: string;
  let env: Record<string, string>;

  const backtest = (name: string, extra: string[] = []): Promise<Run> =>
    cli(
      [
        'backtest',
        '--symbol',
        'BTCUSDT',
        '--interval',
        '1h',
        '--from',
        FROM,
        '--to',
        TO,
        '--model',
        'baseline',
        '--warmup-bars',
        String(WARMUP),
        '--out',
        join(out, name),
        ...extra,
      ],
      env,
    );

  beforeAll(async () => {
    tp = await createTestPlatform('bt-cli');
    producer = await createProducer(tp.platform.kafka);
    await runReplay({
      platform: tp.platform,
      config: tp.config,
      producer,
      file: HOURLY_MERGED,
      symbol: 'BTCUSDT',
      interval: '1h',
      rate: 0,
      from: Date.parse(FROM) - WARMUP * HOUR,
      to: Date.parse(TO) + 24 * HOUR,
    });
    // The files source reads these; the topics must hold the same texts for the two runs to agree.
    for (const file of BACKTEST_TEXT_FILES) await runTextReplay({ platform: tp.platform, config: tp.config, producer, file, resume: false });
    out = await mkdtemp(join(tmpdir(), 'bp-backtest-cli-'));
    env = {
      BITPREDICT_TOPIC_PREFIX: tp.prefix,
      // Children run on the driver under test.
      BITPREDICT_KAFKA_CLIENT: tp.config.kafka.driver,
      BITPREDICT_REDIS_KEY_PREFIX: tp.config.redis.keyPrefix,
      BITPREDICT_DATA_DIR: DATA_DIR,
      BITPREDICT_LOG_LEVEL: 'error',
      BITPREDICT_MODEL_STORE_DIR: join(out, 'no-store'),
    };
  }, 90_000);

  afterAll(async () => {
    await producer?.close();
    await tp?.cleanup();
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('gives byte-identical results twice through Kafka, the same from the files, and is deaf to future-dated records', async () => {
    const a = await backtest('a');
    expect(a.status, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/\[backtest\] .*\[#+\] \d+\/\d+/);
    const summary = JSON.parse(a.stdout.trim().split('\n').at(-1) ?? '{}') as { bars: number; json: string; html: string };
    expect(summary.bars).toBeGreaterThan(250);
    const b = await backtest('b');
    expect(b.status, b.stderr).toBe(0);
    const jsonA = await readFile(join(out, 'a.json'), 'utf8');
    expect(await readFile(join(out, 'b.json'), 'utf8')).toBe(jsonA);
    const html = await readFile(join(out, 'a.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('BTCUSDT');

    const f = await backtest('f', ['--source', 'files', '--candle-file', HOURLY_MERGED]);
    expect(f.status, f.stderr).toBe(0);
    const jsonF = await readFile(join(out, 'f.json'), 'utf8');
    expect(jsonF).not.toBe(jsonA);
    expect(withoutOrigin(jsonF)).toBe(withoutOrigin(jsonA));

    // Records dated after the range (and a candle far in the future): the same result.
    const some = JSON.parse(jsonA) as { range: unknown };
    expect(some.range).toBeTruthy();
    const candle: Candle = {
      symbol: 'BTCUSDT',
      interval: '1h',
      exchange: 'binance',
      openTime: Date.parse(TO) + 100 * HOUR,
      closeTime: Date.parse(TO) + 101 * HOUR,
      open: 1,
      high: 2,
      low: 0.5,
      close: 1.5,
      volume: 10,
      quoteVolume: null,
      tradeCount: null,
      source: 'test',
      ingestedAt: Date.now(),
    };
    const text: TextItem = {
      id: 'future-1',
      source: 'test',
      sourceId: 'f1',
      kind: 'news',
      publishedAt: Date.parse(TO) + HOUR,
      title: 'Bitcoin crashes to zero',
      text: 'terrible awful crash',
      url: null,
      author: null,
      ingestedAt: Date.now(),
    };
    await producer.send([
      { topic: tp.topic('candles'), key: 'BTCUSDT:1h', value: tp.platform.serde.encode('candles', candle), timestamp: candle.closeTime },
      { topic: tp.topic('textRaw'), key: 'future-1', value: tp.platform.serde.encode('textRaw', text), timestamp: text.publishedAt },
    ]);
    const c = await backtest('c');
    expect(c.status, c.stderr).toBe(0);
    expect(withoutOrigin(await readFile(join(out, 'c.json'), 'utf8'))).toBe(withoutOrigin(jsonA));
  }, 300_000);

  it('refuses a range the topics do not hold, naming what they hold', async () => {
    const r = await cli(['backtest', '--from', '2020-01-01T00:00:00Z', '--to', '2020-02-01T00:00:00Z', '--model', 'baseline', '--out', join(out, 'x')], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ERR_BACKTEST_RANGE/);
    expect(r.stderr, r.stderr).toMatch(/2021-1/);
  }, 120_000);

  it('explains a missing champion and a bad flag before reading anything', async () => {
    // Configuration errors exit with 2, like usage errors.
    const champion = await cli(['backtest', '--from', FROM, '--to', TO], env);
    expect(champion.status).toBe(2);
    expect(champion.stderr).toMatch(/has no champion yet.*--model takes latest, champion, a version or baseline/);
    const mode = await cli(['backtest', '--from', FROM, '--to', TO, '--model', 'baseline', '--mode', 'sideways'], env);
    expect(mode.status).toBe(2);
    expect(mode.stderr).toMatch(/--mode must be long-flat or long-short/);
    const missing = await cli(['backtest', '--model', 'baseline'], env);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--from and --to are required/);
  }, 120_000);
});
