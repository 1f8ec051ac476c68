// The walk-forward evaluation end to end: development folds on a small slice of the real hourly
// data (real features with the live processor's code over the files, a tiny LSTM-attention per
// fold, baselines, the JSON + HTML outputs) never touch the final evaluation window. A final run
// (tests on the window only, trains before it) runs on SYNTHETIC candles in a temp data folder:
// tests never compute figures on the real final window. Final runs go through the final-window
// ledger; tests point --ledger at temp files and never write docs/final-window-ledger.json.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createOutput } from './output.js';
import { evaluate } from './evaluate.js';
import { FINAL_WINDOW_START } from '../core/models/domain/dataset.js';
import type { EvaluationResult } from '../trainer/domain/report.js';
import { appendedLedgerText, designId, emptyLedgerText, lstmDistributionalDesign, lstmPointDesign } from '../trainer/domain/ledger.js';
import { STUDENT_T_DOF } from '../core/models/head.js';
import { readLedger } from '../trainer/ledger.js';
import { FEATURE_SET_VERSION } from '../core/features/indicators.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import { syntheticDataDir } from '../test/helpers/synthetic-data.js';
import { rejection } from '../test/helpers/errors.js';
import { HOURLY_MERGED, hasSharedData, SHARED_DATA_DIR } from '../test/helpers/shared-data.js';
import { TEXT_DATA_FILES } from '../core/data/text/index.js';

const DATA = SHARED_DATA_DIR;
const HAS_DATA = hasSharedData(HOURLY_MERGED, ...TEXT_DATA_FILES);
const COMMITTED_LEDGER = resolve(process.cwd(), 'docs/final-window-ledger.json');
const output = createOutput({ stdout: process.stdout, stderr: process.stderr });

function ledgerCopy(from: string | null): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bp-eval-ledger-')), 'ledger.json');
  if (from === null) writeFileSync(path, emptyLedgerText('test'));
  else copyFileSync(from, path);
  return path;
}

/** The id of the design evaluate --purpose final runs by default (the distributional head). */
function defaultDesign(): string {
  const defaults = { T: 48, units: MODEL_DEFAULTS.units, attentionUnits: MODEL_DEFAULTS.attentionUnits, dropout: MODEL_DEFAULTS.dropout };
  return designId(lstmDistributionalDesign({ ...defaults, featureSetVersion: FEATURE_SET_VERSION, horizons: [1, 4, 24], dof: STUDENT_T_DOF }));
}

/** A copy of the committed ledger that holds a look at the default design (appended here unless the committed one has it). */
async function ledgerWithDefaultDesign(): Promise<string> {
  const design = defaultDesign();
  const ledger = ledgerCopy(COMMITTED_LEDGER);
  const committed = await readLedger(ledger);
  if (!committed.entries.some((e) => e.design === design)) {
    const look = { ...committed.entries[0]!, design, date: '2027-01-01T00:00:00.000Z', commit: 'test', designDescription: 'the distributional design' };
    delete look.forced;
    writeFileSync(ledger, appendedLedgerText(readFileSync(ledger, 'utf8'), look, ledger));
  }
  return ledger;
}

async function run(args: string[], dataDir = DATA): Promise<EvaluationResult> {
  const out = join(mkdtempSync(join(tmpdir(), 'bp-eval-')), 'r');
  const config = loadConfig({}, { BITPREDICT_DATA_DIR: dataDir, BITPREDICT_LOG_LEVEL: 'silent' });
  const code = await evaluate({
    config,
    logger: createLogger({ level: 'silent', name: 'test' }),
    output,
    env: {},
    args: [...args, '--out', out, '--epochs', '1', '--units', '4', '--T', '8', '--backend', 'cpu'],
  });
  expect(code).toBe(0);
  const html = readFileSync(`${out}.html`, 'utf8');
  expect(html).toMatch(/<html/);
  expect(html).toMatch(/persistence/);
  expect(html).toMatch(/Fan chart, 1-step log return/);
  expect(html).toMatch(/PIT histogram, 24 step\(s\)/);
  return JSON.parse(readFileSync(`${out}.json`, 'utf8')) as EvaluationResult;
}

describe('bitpredict evaluate (walk-forward on real hourly data)', () => {
  it('development: folds with the model and every baseline, all before the final window', async (context) => {
    context.skip(!HAS_DATA, 'real data missing (see the skipped: line above)');
    const r = await run([
      '--from',
      '2024-06-01T00:00:00Z',
      '--to',
      '2025-03-01T00:00:00Z',
      '--train-periods',
      '1500',
      '--val-periods',
      '100',
      '--test-periods',
      '600',
    ]);
    expect(r.purpose).toBe('development');
    expect(r.folds.length).toBeGreaterThan(1);
    for (const f of r.folds) {
      expect(Date.parse(f.testTo)).toBeLessThanOrEqual(FINAL_WINDOW_START);
      expect(f.models.map((m) => m.name)).toEqual(['lstm-attention', 'persistence', 'ema-drift', 'linear']);
      expect(Date.parse(f.trainTo)).toBeLessThanOrEqual(Date.parse(f.testFrom));
    }
    expect(r.overall.n).toBe(r.folds.reduce((n, f) => n + f.nTest, 0));
    // Every forecaster is scored per horizon on the same forecasts; the 24-step labels of the last
    // windows before 2025-01-01 would read the final window, so they are missing, not scored.
    const d = r.distributional;
    expect(d?.horizons).toEqual([1, 4, 24]);
    for (const hs of d?.scores ?? []) {
      expect(hs.forecasters.map((f) => f.name)).toEqual(['lstm-attention', 'persistence', 'ewma', 'har-rv', 'garch']);
      expect(hs.n + hs.missing).toBe(r.overall.n);
      for (const f of hs.forecasters) expect(f.summary.n).toBe(hs.n);
      expect(hs.forecasters[0]?.dm.persistence?.pinball?.pValue).toBeGreaterThanOrEqual(0);
    }
    expect(d?.scores[2]?.missing).toBeGreaterThanOrEqual(23);
    expect(d?.fans[0]?.times.every((t) => t < FINAL_WINDOW_START)).toBe(true);
  }, 180_000);

  it('final (synthetic data): trains and validates before 2025-01-01, tests on the final window only, and is recorded once', async () => {
    const dataDir = syntheticDataDir();
    const ledger = ledgerCopy(null);
    const args = ['--purpose', 'final', '--from', '2024-09-01T00:00:00Z', '--to', '2025-02-01T00:00:00Z', '--train-periods', '2000', '--val-periods', '200'];
    const r = await run([...args, '--ledger', ledger], dataDir);
    expect(r.purpose).toBe('final');
    expect(r.folds).toHaveLength(1);
    const f = r.folds[0];
    expect(Date.parse(f?.valTo ?? '')).toBeLessThanOrEqual(FINAL_WINDOW_START);
    expect(Date.parse(f?.testFrom ?? '')).toBeGreaterThanOrEqual(FINAL_WINDOW_START);
    expect(r.overall.n).toBeGreaterThan(500);

    // The ledger holds the run: the distributional design of T 8 / 4 units, the command, the headline it printed.
    const design = designId(
      lstmDistributionalDesign({
        T: 8,
        units: 4,
        attentionUnits: MODEL_DEFAULTS.attentionUnits,
        dropout: 0,
        featureSetVersion: FEATURE_SET_VERSION,
        horizons: [1, 4, 24],
        dof: STUDENT_T_DOF,
      }),
    );
    const [entry, ...rest] = (await readLedger(ledger)).entries;
    expect(rest).toHaveLength(0);
    expect(entry).toMatchObject({ kind: 'evaluate', design, range: { from: r.data.from, to: r.data.to } });
    expect(entry?.forced).toBeUndefined();
    expect(entry?.command.slice(0, 4)).toEqual(['bitpredict', 'evaluate', '--purpose', 'final']);
    const model = r.overall.models.find((m) => m.name === 'lstm-attention');
    expect(entry?.headline.n).toBe(r.overall.n);
    expect(entry?.headline['lstm-attention.rmse']).toBe(model?.regression.rmse);
    expect(entry?.headline['persistence.rmse']).toBe(r.overall.models.find((m) => m.name === 'persistence')?.regression.rmse);
    const h1 = r.distributional?.scores[0];
    expect(entry?.headline['h1.lstm-attention.pinball']).toBe(h1?.forecasters[0]?.summary.pinball);
    expect(entry?.headline['h1.garch.cov90']).toBe(h1?.forecasters.find((f) => f.name === 'garch')?.coverage[2]?.coverage);

    // The same design again is refused before any data is read (the data folder is gone from the
    // config: a read would fail with another error), and nothing is appended.
    const empty = mkdtempSync(join(tmpdir(), 'bp-eval-nodata-'));
    const again = await rejection(run([...args, '--ledger', ledger], empty));
    expect(again.code).toBe('ERR_FINAL_WINDOW');
    expect(again.message).toContain(`the final window was already evaluated for design ${design} on ${entry?.date ?? '?'}`);
    expect(again.message).toContain('a second look needs --force-reason "..." and is recorded');
    expect((await readLedger(ledger)).entries).toHaveLength(1);

    // Forced with a reason, it runs and the reason is recorded.
    await run([...args, '--ledger', ledger, '--force-reason', 'test of the forced path'], dataDir);
    const entries = (await readLedger(ledger)).entries;
    expect(entries).toHaveLength(2);
    expect(entries[1]).toMatchObject({ design, forced: { reason: 'test of the forced path' } });
    expect(entries[0]).toEqual(entry);
  }, 240_000);

  it('the point design keeps its id; final with the default distributional design is refused once the ledger holds it, before any data is read', async () => {
    // The two historic entries are of the point design, whose id has not changed.
    const point = designId(lstmPointDesign({ T: 48, units: 32, attentionUnits: 16, dropout: 0, featureSetVersion: FEATURE_SET_VERSION }));
    expect(point).toBe('1d775f83beac');
    const design = defaultDesign();
    expect(design).not.toBe(point);
    const ledger = await ledgerWithDefaultDesign();
    const before = readFileSync(ledger, 'utf8');
    const config = loadConfig({}, { BITPREDICT_DATA_DIR: mkdtempSync(join(tmpdir(), 'bp-eval-nodata-')), BITPREDICT_LOG_LEVEL: 'silent' });
    const err = await rejection(
      evaluate({ config, logger: createLogger({ level: 'silent', name: 'test' }), output, env: {}, args: ['--purpose', 'final', '--ledger', ledger] }),
    );
    expect(err.code).toBe('ERR_FINAL_WINDOW');
    expect(err.message).toContain(`the final window was already evaluated for design ${design}`);
    expect(readFileSync(ledger, 'utf8')).toBe(before);
  });

  it('final with a malformed, missing or empty-reason ledger check fails clearly before any data is read', async () => {
    const config = loadConfig({}, { BITPREDICT_DATA_DIR: mkdtempSync(join(tmpdir(), 'bp-eval-nodata-')), BITPREDICT_LOG_LEVEL: 'silent' });
    const go = (args: string[]): Promise<number> => evaluate({ config, logger: createLogger({ level: 'silent', name: 'test' }), output, env: {}, args });
    const bad = ledgerCopy(null);
    writeFileSync(bad, '{"format": "bitpredict-final-window-ledger/1", "entries": [}');
    const malformed = await rejection(go(['--purpose', 'final', '--ledger', bad]));
    expect(malformed.code).toBe('ERR_VALIDATION');
    expect(malformed.message).toContain(`final-window ledger ${bad} is not valid JSON`);
    const missing = await rejection(go(['--purpose', 'final', '--ledger', join(bad, '..', 'absent.json')]));
    expect(missing.code).toBe('ERR_CONFIG_INVALID');
    const blank = await rejection(go(['--purpose', 'final', '--ledger', await ledgerWithDefaultDesign(), '--force-reason', ' ']));
    expect(blank.code).toBe('ERR_FINAL_WINDOW');
    expect(blank.message).toMatch(/the reason given was empty/);
    await expect(go(['--force-reason', 'x'])).rejects.toThrow(/apply to --purpose final only/);
  });

  it('refuses bad flags with a clear error', async () => {
    const config = loadConfig({}, { BITPREDICT_DATA_DIR: DATA });
    await expect(evaluate({ config, logger: createLogger({ level: 'silent', name: 'test' }), output, env: {}, args: ['--purpose', 'peek'] })).rejects.toThrow(
      /--purpose must be development or final/,
    );
    await expect(evaluate({ config, logger: createLogger({ level: 'silent', name: 'test' }), output, env: {}, args: ['--from', 'yesterday'] })).rejects.toThrow(
      /not an ISO 8601 time/,
    );
  });
});
