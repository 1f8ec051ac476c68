// The baselines on the real hourly BTCUSDT candles: fit 2022-2023, evaluate 2024 (development
// figures). Rows from 2025-01-01 on are the final evaluation window: the loader stops before them,
// so nothing here reads them.
import { describe, expect, it } from 'vitest';
import { loadCandlesFromFile } from '../data/load.js';
import { runBaselines } from './bank.js';
import { evaluateRun } from './evaluate.js';
import { hasSharedData, SHARED_DATA_DIR } from '../../test/helpers/shared-data.js';

const DATA_DIR = SHARED_DATA_DIR;
const FILE = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const FINAL_WINDOW = Date.UTC(2025, 0, 1);
const H = 3_600_000;

describe.skipIf(!hasSharedData(FILE))('baselines on real hourly BTCUSDT (development figures, 2024)', () => {
  it('HAR-RV beats persistence on the 1 h scale and the intervals cover about their levels', async () => {
    const candles = await loadCandlesFromFile(DATA_DIR, FILE, 'BTCUSDT', '1h', { from: Date.UTC(2022, 0, 1), to: FINAL_WINDOW });
    expect(candles.every((c) => c.openTime < FINAL_WINDOW)).toBe(true);
    const run = runBaselines({
      times: candles.map((c) => c.openTime),
      closes: candles.map((c) => c.close),
      stepMs: H,
      horizons: [1, 4, 24],
      fitFrom: Date.UTC(2022, 0, 1),
      fitTo: Date.UTC(2023, 11, 31, 23),
      evalFrom: Date.UTC(2024, 0, 1),
      evalTo: Date.UTC(2024, 11, 31, 23),
    });
    const rows = evaluateRun(run);
    const fmt = (x: number | null | undefined, d = 6): string => (x === null || x === undefined ? '-' : x.toPrecision(d));
    const table = rows.map((r) => ({
      name: r.name,
      h: r.h,
      n: r.summary.n,
      missing: r.summary.missing,
      pinball: fmt(r.summary.pinball),
      qlike: fmt(r.summary.qlike),
      mse: fmt(r.summary.mse),
      cov: r.summary.coverage.map((c) => c.coverage.toFixed(4)).join('/'),
      width80: fmt(r.summary.coverage[1]?.meanWidth, 4),
      kupiecP: r.kupiecP.map((p) => p.toPrecision(3)).join('/'),
      dmMse: r.dmMse ? `${r.dmMse.stat.toFixed(2)} (p ${r.dmMse.pValue.toExponential(1)})` : '-',
      dmPinball: r.dmPinball ? `${r.dmPinball.stat.toFixed(2)} (p ${r.dmPinball.pValue.toExponential(1)})` : '-',
    }));
    console.log(JSON.stringify({ garch: run.fit.garch, table }));
    const row = (name: string, h: number) => rows.find((r) => r.name === name && r.h === h)!;
    expect(row('har-rv', 1).summary.n).toBeGreaterThan(8700);
    // The figure: HAR-RV cuts the 1 h squared error of |r| against a constant, DM p < 0.001.
    expect(row('har-rv', 1).dmMse!.stat).toBeLessThan(0);
    expect(row('har-rv', 1).dmMse!.pValue).toBeLessThan(0.001);
    expect(row('har-rv', 1).summary.mse!).toBeLessThan(row('persistence', 1).summary.mse!);
    // Persistence's 80 % interval, sized on 2022-2023, covers 2024 within a wide band (volatility moved).
    const p80 = row('persistence', 1).summary.coverage[1]!.coverage;
    expect(p80).toBeGreaterThan(0.72);
    expect(p80).toBeLessThan(0.9);
    // The conditional scales track the variance better than the constant one (QLIKE, 1 h).
    for (const name of ['ewma', 'har-rv', 'garch']) expect(row(name, 1).summary.qlike!).toBeLessThan(row('persistence', 1).summary.qlike!);
  }, 120_000);
});
