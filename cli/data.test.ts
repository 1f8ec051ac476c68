// `bitpredict data inspect|import` on the hand-typed fixtures of test/fixtures/candles: the report
// a person reads (and its --json), and the canonical CSV import writes, which reads back as the
// same candles in the project's own layout.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createOutput } from './output.js';
import { CANONICAL_HEADER, data } from './data.js';
import { readCandleFile } from '../core/data/load.js';
import { rejection } from '../test/helpers/errors.js';

const FIXTURES = resolve(import.meta.dirname, '../test/fixtures/candles');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const output = createOutput({ stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (err += c) } });
  const config = loadConfig({}, { BITPREDICT_DATA_DIR: FIXTURES, BITPREDICT_LOG_LEVEL: 'silent' });
  const code = await data({ config, logger: createLogger({ level: 'silent', name: 'test' }), output, env: {}, args });
  return { code, out, err };
}

describe('bitpredict data inspect', () => {
  it('prints the layout, range, gaps, duplicates and each rejected row with its line', async () => {
    const r = await run(['inspect', 'bad-rows.csv']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('format:      generic-csv (columns time=1,open=2,high=3,low=4,close=5,volume=6)');
    expect(r.out).toContain('interval:    1h (inferred)');
    expect(r.out).toContain('rows:        10 (5 candles kept)');
    expect(r.out).toContain('first:       2024-01-01T00:00:00.000Z');
    expect(r.out).toContain('gap 2024-01-01T04:00:00.000Z .. 2024-01-01T06:00:00.000Z: 2 missing');
    expect(r.out).toContain('duplicates:  1 (1 with different values; the later copy is kept)');
    expect(r.out).toContain('out of order: 1');
    expect(r.out).toMatch(/line 4: ERR_REPLAY_MALFORMED_ROW: open "abc" is not a number/);
    expect(r.out).toMatch(/line 11: ERR_REPLAY_MALFORMED_ROW: expected at least 6 columns, got 3/);
    expect(r.out).toContain('last candle: complete');
  });

  it('--json: one object; the headerless kline file with microseconds', async () => {
    const r = await run(['inspect', join(FIXTURES, 'binance-kline-us.csv'), '--json']);
    const report = JSON.parse(r.out) as Record<string, unknown>;
    expect(report).toMatchObject({ format: 'binance-kline-csv', header: false, candles: 3, first: '2025-01-01T00:00:00.000Z', badRows: 0 });
  });

  it('takes exactly one file; a missing file names the setting', async () => {
    expect((await rejection(run(['inspect']))).message).toContain('inspect takes exactly one FILE');
    expect((await rejection(run(['inspect', 'a.csv', 'b.csv']))).message).toContain('exactly one FILE');
    expect((await rejection(run(['inspect', 'nope.csv']))).message).toMatch(/candle file not found: neither .*nope.csv nor .*nope.csv .*BITPREDICT_DATA_DIR/);
    // A relative FILE in the working directory comes first (the repository root here, not the data folder).
    expect((await run(['inspect', 'test/fixtures/candles/generic-datetime.csv'])).out).toContain('rows:        4 (4 candles kept)');
  });
});

describe('bitpredict data import', () => {
  it('writes the canonical CSV, which reads back as the same candles', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bp-import-')), 'btc.csv');
    const r = await run(['import', 'columns-mapping.csv', '--columns', 'time=bar_start,volume=base_qty', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`wrote 3 candles to ${out}`);
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n')[0]).toBe(CANONICAL_HEADER);
    expect(text.split('\n')[1]).toBe('1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108');
    const now = () => Date.UTC(2026, 0, 1);
    const back = await readCandleFile(FIXTURES, out, 'BTCUSDT', '1h', { now });
    const orig = await readCandleFile(FIXTURES, 'columns-mapping.csv', 'BTCUSDT', '1h', { now, columns: 'time=bar_start,volume=base_qty' });
    expect(back.layout.format).toBe('binance-1m-csv');
    expect(back.droppedLastRow).toBeNull();
    const values = (c: (typeof back.candles)[number]) => [c.openTime, c.open, c.high, c.low, c.close, c.volume];
    expect(back.candles.map(values)).toEqual(orig.candles.map(values));
  });

  it('leaves rejected rows out and lists them; refuses to overwrite without --force', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bp-import-')), 'clean.csv');
    const r = await run(['import', 'bad-rows.csv', '--out', out, '--json']);
    const report = JSON.parse(r.out) as { written: number; rejected: { line: number }[] };
    expect(report.written).toBe(5);
    expect(report.rejected.map((d) => d.line)).toEqual([4, 7, 8, 11]);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(6);
    expect((await rejection(run(['import', 'bad-rows.csv', '--out', out]))).message).toContain('pass --force');
    expect((await run(['import', 'bad-rows.csv', '--out', out, '--force'])).code).toBe(0);
  });

  it('a file with no valid candle is an error and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-import-'));
    writeFileSync(join(dir, 'junk.csv'), 'time,open,high,low,close,volume\n2024-01-01T00:00:00Z,x,1,1,1,1\n2024-01-01T01:00:00Z,x,1,1,1,1\n');
    const err = await rejection(run(['import', join(dir, 'junk.csv'), '--interval', '1h']));
    expect(err.code).toBe('ERR_REPLAY_FILE');
    expect(err.message).toContain('no valid candle to import');
    expect(existsSync(join(dir, 'junk.canonical.csv'))).toBe(false);
  });
});
