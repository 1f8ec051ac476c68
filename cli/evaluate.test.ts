// The walk-forward evaluation end to end on a small slice of the real hourly data: real features
// (the live processor's code over the files), a tiny LSTM-attention trained per fold, baselines,
// and the JSON + HTML outputs. Development folds never touch the final evaluation window; a final
// run tests on it only and trains before it.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createOutput } from './output.js';
import { evaluate } from './evaluate.js';
import { FINAL_WINDOW_START } from '../core/models/domain/dataset.js';
import type { EvaluationResult } from '../trainer/domain/report.js';

const DATA = resolve(process.cwd(), '../shared/data');
const output = createOutput({ stdout: process.stdout, stderr: process.stderr });

async function run(args: string[]): Promise<EvaluationResult> {
  const out = join(mkdtempSync(join(tmpdir(), 'bp-eval-')), 'r');
  const config = loadConfig({}, { BITPREDICT_DATA_DIR: DATA, BITPREDICT_LOG_LEVEL: 'silent' });
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
  return JSON.parse(readFileSync(`${out}.json`, 'utf8')) as EvaluationResult;
}

describe('bitpredict evaluate (walk-forward on real hourly data)', () => {
  it('development: folds with the model and every baseline, all before the final window', async () => {
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
  }, 120_000);

  it('final: trains and validates before 2025-01-01 and tests on the final window only', async () => {
    const r = await run([
      '--purpose',
      'final',
      '--from',
      '2024-09-01T00:00:00Z',
      '--to',
      '2025-02-01T00:00:00Z',
      '--train-periods',
      '2000',
      '--val-periods',
      '200',
    ]);
    expect(r.purpose).toBe('final');
    expect(r.folds).toHaveLength(1);
    const f = r.folds[0];
    expect(Date.parse(f?.valTo ?? '')).toBeLessThanOrEqual(FINAL_WINDOW_START);
    expect(Date.parse(f?.testFrom ?? '')).toBeGreaterThanOrEqual(FINAL_WINDOW_START);
    expect(r.overall.n).toBeGreaterThan(500);
  }, 120_000);

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
