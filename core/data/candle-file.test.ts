import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Candle } from '../../schemas/types.js';
import { replayBatches, type PipelineBatch, type PipelineParams } from './candle-file.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const NOW = Date.UTC(2025, 0, 1);
const utc = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
const merged = (hour: number, close = 100 + hour): string => `${T0 + hour * H},${utc(T0 + hour * H)},${close},${close + 1},${close - 1},${close},1.5,src`;
const HEADER = 'open_time_ms,open_time_utc,open,high,low,close,volume_btc,source_folder';

function file(name: string, lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'bp-pipeline-'));
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

function params(path: string, over: Partial<PipelineParams> = {}): PipelineParams {
  return {
    path,
    format: 'merged-csv',
    dropLastRow: false,
    symbol: 'BTCUSDT',
    interval: '1h',
    intervalMs: H,
    exchange: 'binance',
    source: 'replay:test',
    from: null,
    to: null,
    limit: 0,
    batchSize: 1000,
    futureToleranceMs: 60_000,
    ...over,
  };
}

/** Runs the pipeline with an encoder that records the candles, so values can be checked. */
async function run(p: PipelineParams, keepCandles = false): Promise<{ batches: PipelineBatch[]; encoded: Candle[] }> {
  const encoded: Candle[] = [];
  const batches: PipelineBatch[] = [];
  const encode = (c: Candle): Buffer => {
    encoded.push(c);
    return Buffer.from(String(c.openTime));
  };
  for await (const b of replayBatches(p, { encode, now: () => NOW, keepCandles })) batches.push(b);
  return { batches, encoded };
}

describe('replayBatches', () => {
  it('emits every candle once, in order, in batches of batchSize, ending with one last batch', async () => {
    const path = file('BTCUSDT_1h_merged.csv', [HEADER, ...Array.from({ length: 25 }, (_, h) => merged(h))]);
    const { batches, encoded } = await run(params(path, { batchSize: 10 }));
    expect(batches.map((b) => b.values.length)).toEqual([10, 10, 5]);
    expect(batches.map((b) => b.last)).toEqual([false, false, true]);
    expect(encoded.map((c) => c.openTime)).toEqual(Array.from({ length: 25 }, (_, h) => T0 + h * H));
    expect(batches.flatMap((b) => b.timestamps)).toEqual(Array.from({ length: 25 }, (_, h) => T0 + (h + 1) * H));
    expect(encoded[0]).toMatchObject({
      symbol: 'BTCUSDT',
      interval: '1h',
      exchange: 'binance',
      source: 'replay:test',
      ingestedAt: NOW,
      close: 100,
      high: 101,
      low: 99,
    });
    expect(batches.at(-1)).toMatchObject({ firstOpenTime: T0, lastOpenTime: T0 + 24 * H, droppedPartialLastRow: false, candles: null });
  });

  it('places bad rows among the candles in file order, with line, raw text, code and reason', async () => {
    const lines = [
      HEADER,
      merged(0),
      `${T0 + H},2024-01-01 02:00:00,100,101,99,100,1.5,src`, // 3: utc column disagrees
      merged(1),
      `${T0 + 2 * H},${utc(T0 + 2 * H)},100,90,110,100,1.5,src`, // 5: high < low
      merged(2),
      merged(0), // 7: out of order
      `${T0 + 3 * H},${utc(T0 + 3 * H)},1`, // 8: truncated
      '', // 9: blank, skipped
      merged(3),
    ];
    const { batches } = await run(params(file('BTCUSDT_1h_merged.csv', lines)));
    expect(batches).toHaveLength(1);
    const b = batches[0] as PipelineBatch;
    expect(b.values.map(String)).toEqual([T0, T0 + H, T0 + 2 * H, T0 + 3 * H].map(String));
    expect(b.dead.map((d) => [d.index, d.lineNo, d.code, d.raw, d.at])).toEqual([
      [0, 3, 'ERR_REPLAY_MALFORMED_ROW', lines[2], NOW],
      [2, 5, 'ERR_VALIDATION', lines[4], NOW],
      [4, 7, 'ERR_VALIDATION', lines[6], NOW],
      [5, 8, 'ERR_REPLAY_MALFORMED_ROW', lines[7], NOW],
    ]);
    expect(b.dead[0]?.reason).toMatch(/does not match open_time_ms/);
    expect(b.dead[1]?.reason).toMatch(/high 90 < low 110/);
    expect(b.dead[2]?.reason).toMatch(/before the last published/);
    expect(b.stats).toMatchObject({ outOfOrder: 1, gaps: 0 });
  });

  it('honours from, to and limit, and drops a known partial last row', async () => {
    const path = file('BTCUSDT_1h_merged.csv', [HEADER, ...Array.from({ length: 10 }, (_, h) => merged(h))]);
    const ranged = await run(params(path, { from: T0 + 2 * H, to: T0 + 6 * H }));
    expect(ranged.encoded.map((c) => (c.openTime - T0) / H)).toEqual([2, 3, 4, 5]);
    const limited = await run(params(path, { limit: 3 }));
    expect(limited.encoded.map((c) => (c.openTime - T0) / H)).toEqual([0, 1, 2]);
    const dropped = await run(params(path, { dropLastRow: true }), true);
    expect(dropped.encoded.map((c) => (c.openTime - T0) / H)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(dropped.batches.at(-1)).toMatchObject({ droppedPartialLastRow: true });
    expect(dropped.batches.flatMap((b) => b.candles ?? [])).toEqual(dropped.encoded);
  });

  it('rejects a future-dated row against the injected clock', async () => {
    const future = Math.floor(NOW / H) * H + 2 * H;
    const path = file('BTCUSDT_1h_merged.csv', [HEADER, merged(0), `${future},${utc(future)},1,1,1,1,1,src`, merged(1)]);
    const { batches, encoded } = await run(params(path));
    expect(encoded).toHaveLength(2);
    expect(batches[0]?.dead[0]?.reason).toMatch(/future/);
  });

  it('fails with ERR_REPLAY_FILE on a JSON file that is not an array', async () => {
    const path = file('BTC_USDT-1h.json', ['{"not": "an array"}']);
    await expect(run(params(path, { format: 'freqtrade-json' }))).rejects.toMatchObject({ code: 'ERR_REPLAY_FILE' });
  });

  it('yields one empty last batch for a file with only a header', async () => {
    const { batches } = await run(params(file('BTCUSDT_1h_merged.csv', [HEADER])));
    expect(batches).toEqual([expect.objectContaining({ values: [], dead: [], last: true, firstOpenTime: null })]);
  });
});

describe('replayBatches with resumeAfter (dedupe on restart)', () => {
  const lines = [HEADER, ...Array.from({ length: 10 }, (_, h) => merged(h))];

  it('skips rows at or before resumeAfter, counts them, and counts them towards limit', async () => {
    const path = file('BTCUSDT_1h_merged.csv', lines);
    const first = await run(params(path, { limit: 4 }));
    expect(first.encoded.map((c) => c.openTime)).toEqual([0, 1, 2, 3].map((h) => T0 + h * H));
    const second = await run(params(path, { limit: 7, resumeAfter: T0 + 3 * H }));
    expect(second.encoded.map((c) => c.openTime)).toEqual([4, 5, 6].map((h) => T0 + h * H));
    expect(second.batches.at(-1)?.skippedExisting).toBe(4);
    const third = await run(params(path, { limit: 7, resumeAfter: T0 + 6 * H }));
    expect(third.encoded).toEqual([]);
    expect(third.batches.at(-1)?.skippedExisting).toBe(7);
    const rest = await run(params(path, { resumeAfter: T0 + 6 * H }));
    expect(rest.encoded.map((c) => c.openTime)).toEqual([7, 8, 9].map((h) => T0 + h * H));
  });

  it('counts a repeated open time in the skipped part once, so limit names the same slice', async () => {
    const path = file('BTCUSDT_1h_merged.csv', [HEADER, merged(0), merged(1), merged(1, 150), merged(2), merged(3), merged(4)]);
    const fresh = await run(params(path, { limit: 3 }));
    expect(fresh.encoded.map((c) => c.openTime)).toEqual([0, 1, 2].map((h) => T0 + h * H));
    const resumed = await run(params(path, { limit: 4, resumeAfter: T0 + 2 * H }));
    expect(resumed.encoded.map((c) => c.openTime)).toEqual([T0 + 3 * H]);
    expect(resumed.batches.at(-1)?.skippedExisting).toBe(3);
  });

  it('drops bad rows inside the published part, and dead-letters those after it', async () => {
    const path = file('BTCUSDT_1h_merged.csv', [HEADER, merged(0), 'garbage,row', merged(1), 'bad after', merged(2), merged(3), 'x,y']);
    const { batches, encoded } = await run(params(path, { resumeAfter: T0 + H }));
    expect(encoded.map((c) => c.openTime)).toEqual([T0 + 2 * H, T0 + 3 * H]);
    expect(batches.flatMap((b) => b.dead.map((d) => [d.lineNo, d.code]))).toEqual([
      [5, 'ERR_REPLAY_MALFORMED_ROW'],
      [8, 'ERR_REPLAY_MALFORMED_ROW'],
    ]);
  });

  it('publishes everything when resumeAfter is before the file, and nothing when it is after', async () => {
    const path = file('BTCUSDT_1h_merged.csv', lines);
    expect((await run(params(path, { resumeAfter: T0 - H }))).encoded).toHaveLength(10);
    const after = await run(params(path, { resumeAfter: T0 + 100 * H }));
    expect(after.encoded).toEqual([]);
    expect(after.batches.at(-1)?.skippedExisting).toBe(10);
  });
});
