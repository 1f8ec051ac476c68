import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBitPredictError } from '../errors.js';
import type { Candle, ScoredText } from '../../schemas/types.js';
import {
  codeCommit,
  describeLineage,
  fileSource,
  filesLineage,
  hashFile,
  rowsUsed,
  topicSource,
  usedFromFiles,
  validateLineage,
  type ArtifactLineage,
} from './lineage.js';
import { validateMeta, type ArtifactMeta } from './artifact.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2023, 5, 1);

function candle(h: number): Candle {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    exchange: 'binance',
    openTime: T0 + h * HOUR,
    closeTime: T0 + (h + 1) * HOUR,
    open: 1,
    high: 1,
    low: 1,
    close: 1,
    volume: 1,
  } as Candle;
}

function text(source: string, publishedAt: number): ScoredText {
  return {
    id: `${source}-${publishedAt}`,
    source,
    kind: 'news',
    publishedAt,
    vader: { compound: 0, pos: 0, neu: 1, neg: 0 },
    finbert: null,
    vaderVersion: 'v',
    scoredAt: 0,
  };
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return isBitPredictError(err) ? err.code : `not a BitPredictError: ${String(err)}`;
  }
  return undefined;
}

const sha = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

describe('lineage: file hashes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bp-lineage-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hashes a file like node:crypto on the same bytes, and again after it changes', async () => {
    const path = join(dir, 'candles.csv');
    // Bigger than one stream chunk (64 KiB), so the streamed hash spans several updates.
    const bytes = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31 + 7) % 251));
    await writeFile(path, bytes);
    expect(await hashFile(path)).toEqual({ bytes: bytes.length, sha256: sha(bytes) });
    const changed = Buffer.concat([bytes, Buffer.from('x')]);
    await writeFile(path, changed);
    // Same size would still differ in mtime; force a distinct mtime so the cache key changes.
    await utimes(path, new Date(), new Date(Date.now() + 5000));
    expect(await hashFile(path)).toEqual({ bytes: changed.length, sha256: sha(changed) });
  });

  it('hashes an empty file, and refuses a missing one with ERR_VALIDATION', async () => {
    await writeFile(join(dir, 'empty.csv'), '');
    expect(await hashFile(join(dir, 'empty.csv'))).toEqual({ bytes: 0, sha256: sha('') });
    expect(await codeOf(hashFile(join(dir, 'missing.csv')))).toBe('ERR_VALIDATION');
    expect(await codeOf(hashFile(dir))).toBe('ERR_VALIDATION');
  });

  it('names a file by its path relative to the data folder, an outside file by its absolute path', async () => {
    await writeFile(join(dir, 'news.csv'), 'title,date\n');
    const used = { rows: 0, firstTime: null, lastTime: null };
    expect(await fileSource(dir, 'news.csv', 'texts', used)).toEqual({
      kind: 'file',
      role: 'texts',
      path: 'news.csv',
      bytes: 11,
      sha256: sha('title,date\n'),
      ...used,
    });
    expect((await fileSource(dir, join(dir, 'news.csv'), 'texts', used)).path).toBe('news.csv');
    expect((await fileSource(join(dir, 'sub'), join(dir, 'news.csv'), 'texts', used)).path).toBe(join(dir, 'news.csv'));
  });

  it('filesLineage: the candle file and every text file, hashed, with the rows used', async () => {
    await writeFile(join(dir, 'c.csv'), 'candles');
    await writeFile(join(dir, 'a.csv'), 'texts a');
    await writeFile(join(dir, 'b.csv'), 'texts b');
    const candles = [candle(0), candle(1), candle(2)];
    const texts = [text('replay:a.csv', T0 + 30 * 60_000), text('replay:a.csv', T0 + 5 * HOUR), text('replay:other.csv', T0 + HOUR)];
    const l = await filesLineage(dir, 'c.csv', candles, ['a.csv', 'b.csv'], texts, HOUR);
    expect(l.dataDir).toBe(dir);
    expect(l.sources).toEqual([
      { kind: 'file', role: 'candles', path: 'c.csv', bytes: 7, sha256: sha('candles'), rows: 3, firstTime: T0, lastTime: T0 + 2 * HOUR },
      { kind: 'file', role: 'texts', path: 'a.csv', bytes: 7, sha256: sha('texts a'), rows: 1, firstTime: T0 + 30 * 60_000, lastTime: T0 + 30 * 60_000 },
      { kind: 'file', role: 'texts', path: 'b.csv', bytes: 7, sha256: sha('texts b'), rows: 0, firstTime: null, lastTime: null },
    ]);
    expect(await codeOf(filesLineage(dir, 'nope.csv', candles, [], [], HOUR))).toBe('ERR_VALIDATION');
  });
});

describe('lineage: rows, topics and texts used', () => {
  it('rowsUsed counts and spans any order; empty has no times; NaN is refused', async () => {
    expect(rowsUsed([5, 1, 9, 3])).toEqual({ rows: 4, firstTime: 1, lastTime: 9 });
    expect(rowsUsed([])).toEqual({ rows: 0, firstTime: null, lastTime: null });
    expect(await codeOf(() => rowsUsed([1, Number.NaN]))).toBe('ERR_VALIDATION');
    expect(await codeOf(() => rowsUsed([Infinity]))).toBe('ERR_VALIDATION');
  });

  it('topicSource: first and last offset and time range per partition, partitions in order', () => {
    const s = topicSource('p.features', 'features', [
      { partition: 2, offset: 10n, time: 300 },
      { partition: 0, offset: 9_007_199_254_740_993n, time: 100 },
      { partition: 2, offset: 4n, time: 200 },
      { partition: 2, offset: 7n, time: 250 },
    ]);
    expect(s).toEqual({
      kind: 'topic',
      role: 'features',
      topic: 'p.features',
      partitions: [
        { partition: 0, firstOffset: '9007199254740993', lastOffset: '9007199254740993', rows: 1, firstTime: 100, lastTime: 100 },
        { partition: 2, firstOffset: '4', lastOffset: '10', rows: 3, firstTime: 200, lastTime: 300 },
      ],
    });
    expect(topicSource('t', 'features', []).partitions).toEqual([]);
  });

  it('usedFromFiles: texts inside (first close - window, last close], per file; no candles, no texts', () => {
    const candles = [candle(10), candle(11)];
    const firstClose = candles[0]!.closeTime;
    const lastClose = candles[1]!.closeTime;
    const texts = [
      text('replay:x.csv', firstClose - HOUR), // on the open end of the window: out
      text('replay:x.csv', firstClose - HOUR + 1),
      text('replay:x.csv', lastClose), // the last feature's own time: in
      text('replay:x.csv', lastClose + 1), // after the last feature: out
    ];
    const u = usedFromFiles(candles, texts, ['dir/x.csv'], HOUR);
    expect(u.candles).toEqual({ rows: 2, firstTime: candles[0]!.openTime, lastTime: candles[1]!.openTime });
    expect(u.texts.get('dir/x.csv')).toEqual({ rows: 2, firstTime: firstClose - HOUR + 1, lastTime: lastClose });
    const none = usedFromFiles([], texts, ['dir/x.csv'], HOUR);
    expect(none.candles.rows).toBe(0);
    expect(none.texts.get('dir/x.csv')?.rows).toBe(0);
  });
});

const GOOD: ArtifactLineage = {
  commit: 'abc1234-dirty',
  dataDir: '/data',
  sources: [
    { kind: 'file', role: 'candles', path: 'btc.csv', bytes: 12, sha256: 'a'.repeat(64), rows: 2, firstTime: 1, lastTime: 2 },
    { kind: 'topic', role: 'features', topic: 'f', partitions: [{ partition: 0, firstOffset: '3', lastOffset: '5', rows: 3, firstTime: 10, lastTime: 30 }] },
  ],
};

describe('lineage: check and description', () => {
  it('accepts a good block and refuses every malformed field with ERR_VALIDATION naming it', async () => {
    expect(validateLineage(GOOD, 'meta.json')).toEqual(GOOD);
    const file = GOOD.sources[0] as unknown as Record<string, unknown>;
    const topic = GOOD.sources[1] as unknown as Record<string, unknown>;
    const part = (topic.partitions as Record<string, unknown>[])[0]!;
    const withFile = (over: Record<string, unknown>): unknown => ({ ...GOOD, sources: [{ ...file, ...over }] });
    const withPart = (over: Record<string, unknown>): unknown => ({ ...GOOD, sources: [{ ...topic, partitions: [{ ...part, ...over }] }] });
    const cases: [unknown, RegExp][] = [
      [null, /lineage must be an object/],
      [[], /lineage must be an object/],
      [{ ...GOOD, commit: '' }, /lineage\.commit/],
      [{ ...GOOD, dataDir: 5 }, /lineage\.dataDir/],
      [{ ...GOOD, sources: 'x' }, /lineage\.sources must be an array/],
      [{ ...GOOD, sources: [7] }, /sources\[0\] must be an object/],
      [withFile({ kind: 'url' }), /sources\[0\]\.kind must be file or topic/],
      [withFile({ role: 'prices' }), /sources\[0\]\.role/],
      [withFile({ path: '' }), /sources\[0\]\.path/],
      [withFile({ bytes: -1 }), /sources\[0\]\.bytes/],
      [withFile({ sha256: 'ABC' }), /sources\[0\]\.sha256/],
      [withFile({ rows: 1.5 }), /sources\[0\]\.rows/],
      [withFile({ firstTime: Number.NaN }), /sources\[0\]\.firstTime/],
      [withFile({ rows: 0 }), /sources\[0\]\.firstTime .*null without rows/],
      [withFile({ firstTime: 3, lastTime: 2 }), /sources\[0\]\.firstTime is after lastTime/],
      [{ ...GOOD, sources: [{ ...topic, topic: '' }] }, /sources\[0\]\.topic/],
      [{ ...GOOD, sources: [{ ...topic, partitions: null }] }, /partitions must be an array/],
      [withPart({ partition: -1 }), /partitions\[0\]\.partition/],
      [withPart({ firstOffset: 3 }), /partitions\[0\]\.firstOffset must be an offset/],
      [withPart({ lastOffset: '-1' }), /partitions\[0\]\.lastOffset must be an offset/],
      [withPart({ firstOffset: '9' }), /partitions\[0\]\.firstOffset is after lastOffset/],
      [withPart({ lastTime: 'late' }), /partitions\[0\]\.lastTime/],
    ];
    for (const [bad, why] of cases) {
      let err: unknown = null;
      try {
        validateLineage(bad, 'meta.json');
      } catch (e) {
        err = e;
      }
      expect(isBitPredictError(err) && err.code === 'ERR_VALIDATION', JSON.stringify(bad)).toBe(true);
      expect((err as Error).message).toMatch(why);
      expect((err as Error).message).toMatch(/^meta\.json: /);
    }
    expect(await codeOf(() => validateLineage(undefined, 'm'))).toBe('ERR_VALIDATION');
  });

  it('the artifact meta check: lineage is optional, and a bad one is refused', () => {
    const meta = {
      name: 'm',
      version: 'v1',
      featureSetVersion: 'fs-2',
      featureColumns: ['a'],
      normalizer: { columns: ['a'], mean: [0], std: [1] },
      T: 2,
      F: 1,
      trainedFrom: 1,
      trainedTo: 2,
      metrics: {},
      backend: 'cpu',
      codeVersion: 'x',
      createdAt: '2026-01-01T00:00:00.000Z',
      expiresAt: null,
      seed: 1,
      hyperparameters: {},
    } satisfies ArtifactMeta;
    expect(validateMeta(meta, 'meta.json').lineage).toBeUndefined();
    expect(validateMeta({ ...meta, lineage: GOOD }, 'meta.json').lineage).toEqual(GOOD);
    expect(() => validateMeta({ ...meta, lineage: { ...GOOD, commit: 7 } }, 'meta.json')).toThrow(/meta\.json: lineage\.commit/);
  });

  it('describes a recorded lineage and says so when there is none', () => {
    expect(describeLineage(undefined, 'fs-2')).toEqual(['lineage: not recorded (trained before lineage was kept)']);
    const text = describeLineage(GOOD, 'fs-2').join('\n');
    expect(text).toMatch(/code commit +abc1234-dirty/);
    expect(text).toMatch(/feature set +fs-2/);
    expect(text).toMatch(/candles +file btc\.csv \(12 B, sha256 a{64}\)/);
    expect(text).toMatch(/used 2 rows, 1970-01-01T00:00:00\.001Z \.\. 1970-01-01T00:00:00\.002Z/);
    expect(text).toMatch(/features +topic f\n +partition 0: offsets 3\.\.5, 3 rows/);
    expect(describeLineage({ commit: 'unknown', sources: [] }, 'fs-2').join('\n')).toMatch(/sources +none recorded/);
  });
});

describe('lineage: code commit', () => {
  it('is a short sha (with -dirty when tracked files differ) in this repository, unknown outside git', async () => {
    expect(codeCommit()).toMatch(/^[0-9a-f]{7,}(-dirty)?$/);
    const dir = await mkdtemp(join(tmpdir(), 'bp-nogit-'));
    try {
      expect(codeCommit(dir)).toBe('unknown');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
