// The research path's texts (loadTextsFromFiles over TEXT_DATA_FILES, scored with the real VADER)
// give the hourly training range real sentiment: before the news descriptions (README 2c) were
// read, no text overlapped 2023 and the trainer's normaliser saw constant sentiment columns.
// Only candles of 2023 are read here (loadCandlesFromFile stops at `to`): nothing of the final
// evaluation window (hourly data from 2025-01-01).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCandlesFromFile, loadTextsFromFile, loadTextsFromFiles } from './load.js';
import { DESCRIPTIONS_EXCLUSION_REASON, TEXT_DATA_FILE, TEXT_DATA_FILES, type ExcludedRows } from './text/index.js';
import { featuresFromCandles, seriesOf } from '../features/batch.js';
import { FEATURE_NAMES, fitNormalizer } from '../models/domain/dataset.js';
import { isBitPredictError } from '../errors.js';
import { hasSharedData, SHARED_DATA_DIR } from '../../test/helpers/shared-data.js';

const DATA = SHARED_DATA_DIR;
const MERGED = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const HAS_DATA = hasSharedData(...TEXT_DATA_FILES, MERGED);
const H = 3_600_000;
const NOW = () => Date.UTC(2026, 0, 1);
const tmp = mkdtempSync(join(tmpdir(), 'bp-load-texts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadTextsFromFiles', () => {
  it.skipIf(!HAS_DATA)('gives 2023 real sentiment: the training normaliser sees varying sentiment columns over June 2023', async () => {
    const { texts, files } = loadTextsFromFiles(DATA, TEXT_DATA_FILES, { now: NOW });
    const byFile = new Map(files.map((f) => [f.file, f]));
    const desc = byFile.get(resolve(DATA, TEXT_DATA_FILE.descriptions));
    expect(desc).toMatchObject({ format: 'descriptions', rows: 11295, dead: 0, excluded: [{ reason: DESCRIPTIONS_EXCLUSION_REASON, rows: 1334 }] });
    expect(byFile.get(resolve(DATA, TEXT_DATA_FILE.headlines))).toMatchObject({ format: 'headlines', rows: 5817, texts: 5817, dead: 0 });
    const in2023 = texts.filter((t) => t.publishedAt >= Date.UTC(2023, 0, 1) && t.publishedAt < Date.UTC(2024, 0, 1));
    expect(in2023.length).toBeGreaterThan(4500);
    expect(new Set(in2023.map((t) => t.vader.compound)).size).toBeGreaterThan(100);

    const from = Date.UTC(2023, 5, 1);
    const to = Date.UTC(2023, 6, 1);
    const candles = await loadCandlesFromFile(DATA, MERGED, 'BTCUSDT', '1h', { from: from - 100 * H, to, now: NOW });
    expect(candles.at(-1)?.openTime).toBeLessThan(to);
    const series = seriesOf(featuresFromCandles(candles, in2023, { windowMs: 4 * H }), 'BTCUSDT', '1h');
    const june = series.filter((f) => f.eventTime >= from && f.eventTime < to);
    expect(june.length).toBeGreaterThan(700);
    const withText = june.filter((f) => (f.textCount ?? 0) > 0);
    // About 13 descriptions a day: most 4-hour windows hold at least one.
    expect(withText.length / june.length).toBeGreaterThan(0.5);
    const norm = fitNormalizer(series, { from, to });
    for (const name of ['vaderMean', 'vaderStd', 'log1p(textCount)']) {
      const j = FEATURE_NAMES.indexOf(name);
      expect(norm.std[j], name).toBeGreaterThan(0.01);
    }
  });

  it('reports each file: rows, dead rows and exclusions, through the report and the callbacks', () => {
    const file = join(tmp, 'descriptions.csv');
    writeFileSync(
      file,
      [
        'Date,Short Description,Accurate Sentiments',
        '2023-03-10 14:05:00,Bitcoin rallies on strong demand.,0.9',
        '2023-03-10 15:05:00,Exchange hacked; funds lost.,0.1',
        'yesterday,bad date,0.1',
        '2024-02-01 00:00:00,a machine-written 2024 summary,0.9',
      ].join('\n'),
    );
    const dead: number[] = [];
    const excluded: ExcludedRows[] = [];
    const r = loadTextsFromFiles(tmp, ['descriptions.csv'], { now: NOW, onDeadRow: (d) => dead.push(d.line), onExcluded: (e) => excluded.push(e) });
    expect(r.files).toEqual([
      { file, format: 'descriptions', rows: 4, texts: 2, dead: 1, duplicates: 0, excluded: [{ reason: DESCRIPTIONS_EXCLUSION_REASON, rows: 1 }] },
    ]);
    expect(dead).toEqual([4]);
    expect(excluded).toEqual([{ reason: DESCRIPTIONS_EXCLUSION_REASON, rows: 1 }]);
    expect(r.texts.map((t) => Math.sign(t.vader.compound))).toEqual([1, -1]);
    expect(loadTextsFromFile(tmp, file, { now: NOW })).toEqual(r.texts.map((t) => ({ ...t, scoredAt: NOW() })));
  });

  it('refuses an unknown header, a header missing a column and a missing file with ERR_REPLAY_FILE', () => {
    writeFileSync(join(tmp, 'odd.csv'), 'a,b,c\n1,2,3\n');
    writeFileSync(join(tmp, 'empty.csv'), '');
    for (const f of ['odd.csv', 'empty.csv', 'missing.csv']) {
      let err: unknown;
      try {
        loadTextsFromFiles(tmp, [f]);
      } catch (e) {
        err = e;
      }
      expect(isBitPredictError(err) && err.code, f).toBe('ERR_REPLAY_FILE');
    }
  });
});
