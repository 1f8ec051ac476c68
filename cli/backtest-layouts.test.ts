// `bitpredict backtest --source files --candle-file FILE` on the two public layouts a researcher
// could not backtest (issue 18): a datetime,open,high,low,close,volume CSV and Binance's
// 12-column kline CSV without header, both generated here from one deterministic series (long
// enough for the warm-up), read in place. Both give the same result; a warm-up that starts before
// the file does is ERR_BACKTEST_RANGE naming the first candle and the earliest --from that works.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createOutput } from './output.js';
import { backtest } from './backtest.js';
import { syntheticDataDir } from '../test/helpers/synthetic-data.js';
import { rejection } from '../test/helpers/errors.js';

const H = 3_600_000;
const START = Date.UTC(2024, 2, 1);
const BARS = 24 * 30;

/** A seeded random walk of hourly candles: [openTime, open, high, low, close, volume] as printed. */
function series(): string[][] {
  let state = 777;
  const rand = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  let price = 65_000;
  const rows: string[][] = [];
  for (let i = 0; i < BARS; i++) {
    const open = price;
    price *= Math.exp(0.01 * rand());
    const high = Math.max(open, price) * 1.001;
    const low = Math.min(open, price) * 0.999;
    rows.push([String(START + i * H), open.toFixed(2), high.toFixed(2), low.toFixed(2), price.toFixed(2), (10 + 5 * rand()).toFixed(5)]);
  }
  return rows;
}

function files(dir: string): { datetime: string; klines: string } {
  const rows = series();
  const utc = (ms: string): string => new Date(Number(ms)).toISOString().slice(0, 19).replace('T', ' ');
  const datetime = join(dir, 'btc-usdt-1h.csv');
  writeFileSync(datetime, ['datetime,open,high,low,close,volume', ...rows.map(([t, ...v]) => [utc(t as string), ...v].join(','))].join('\n') + '\n');
  const klines = join(dir, 'BTCUSDT-1h-2024-03.csv');
  writeFileSync(
    klines,
    rows.map(([t, o, h, l, c, v]) => [t, o, h, l, c, v, String(Number(t) + H - 1), '1000.0', '42', '5.0', '500.0', '0'].join(',')).join('\n') + '\n',
  );
  return { datetime, klines };
}

async function run(dataDir: string, args: string[]): Promise<{ code: number; summary: Record<string, unknown>; json: Record<string, unknown>; err: string }> {
  let out = '';
  let err = '';
  const output = createOutput({ stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (err += c) } });
  const config = loadConfig({}, { BITPREDICT_DATA_DIR: dataDir, BITPREDICT_LOG_LEVEL: 'silent' });
  const report = join(mkdtempSync(join(tmpdir(), 'bp-bt-layout-')), 'r');
  const code = await backtest({
    config,
    logger: createLogger({ level: 'silent', name: 'test' }),
    output,
    env: {},
    args: [...args, '--source', 'files', '--model', 'baseline', '--interval', '1h', '--out', report],
  });
  const summary = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  const json = JSON.parse(readFileSync(`${report}.json`, 'utf8')) as Record<string, unknown>;
  return { code, summary, json, err };
}

describe('backtest --candle-file in the public layouts, read in place', () => {
  const dataDir = syntheticDataDir();
  const { datetime, klines } = files(mkdtempSync(join(tmpdir(), 'bp-bt-files-')));
  const RANGE = ['--from', '2024-03-12T00:00:00Z', '--to', '2024-03-30T00:00:00Z'];

  it('the datetime CSV and the headerless kline CSV give the same backtest', async () => {
    const a = await run(dataDir, [...RANGE, '--candle-file', datetime]);
    const b = await run(dataDir, [...RANGE, '--candle-file', klines]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.summary).toMatchObject({ bars: 18 * 24, gaps: 0 });
    expect(a.err).toContain('(generic-csv)');
    expect(b.err).toContain('(binance-kline-csv)');
    for (const k of ['bars', 'totalReturn', 'buyAndHold', 'directionalAccuracy']) expect(b.summary[k], k).toEqual(a.summary[k]);
    expect(b.json['metrics']).toEqual(a.json['metrics']);
  });

  it('a warm-up before the first candle is ERR_BACKTEST_RANGE with the first candle and the earliest --from', async () => {
    // 200 warm-up bars before 2024-03-05 start on 2024-02-25, before the file's first candle (2024-03-01).
    const err = await rejection(run(dataDir, ['--from', '2024-03-05T00:00:00Z', '--to', '2024-03-20T00:00:00Z', '--candle-file', klines]));
    expect(err.code).toBe('ERR_BACKTEST_RANGE');
    expect(err.message).toContain('holds BTCUSDT:1h candles from 2024-03-01T00:00:00.000Z');
    expect(err.message).toContain('the earliest --from that works is 2024-03-09T08:00:00.000Z');
    expect(err.message).toContain('lower --warmup-bars (the 96 candles before --from that the file has)');
    // That --from works; --drop-last drops the file's last row and says so.
    const ok = await run(dataDir, ['--from', '2024-03-09T08:00:00Z', '--to', '2024-03-31T00:00:00Z', '--candle-file', klines, '--drop-last']);
    expect(ok.code).toBe(0);
    expect(ok.err).toContain('dropped the last row, line 720 (open 2024-03-30T23:00:00.000Z): asked to (--drop-last)');
    expect((ok.json['data'] as { provenance: string[] }).provenance.join('\n')).toContain('dropped the last row, line 720');
  });
});
