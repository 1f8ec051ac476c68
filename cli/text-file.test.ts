// --text-file / --text-columns on backtest, evaluate and train: the user's texts replace the
// built-in list, bad rows are reported on stderr with their lines, and what was read is recorded
// (backtest provenance, evaluate/train lineage). SYNTHETIC candles in a temp data folder; the
// texts are the hand-typed fixtures of test/fixtures/text/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createOutput } from './output.js';
import { backtest } from './backtest.js';
import { evaluate } from './evaluate.js';
import { train } from './train.js';
import { listVersions } from '../core/models/registry.js';
import type { BacktestResult } from '../trainer/backtest/engine.js';
import { syntheticDataDir } from '../test/helpers/synthetic-data.js';
import { rejection } from '../test/helpers/errors.js';

const FIXTURES = resolve(import.meta.dirname, '../test/fixtures/text');
const BAD = join(FIXTURES, 'generic-bad-rows.csv');
const NAMED = join(FIXTURES, 'named-columns.csv');
const RANGE = ['--interval', '1h', '--from', '2024-09-25T00:00:00Z', '--to', '2024-10-10T00:00:00Z', '--model', 'baseline'];

describe('--text-file and --text-columns', () => {
  let data: string;
  let store: string;
  let out: string;
  let stderr: string[] = [];
  const ctx = (args: string[]) => ({
    config: loadConfig(
      {},
      { BITPREDICT_DATA_DIR: data, BITPREDICT_MODEL_STORE_DIR: store, BITPREDICT_LOG_LEVEL: 'silent', BITPREDICT_MODEL_PROMOTION_MARGIN: '1' },
    ),
    logger: createLogger({ level: 'silent', name: 'test' }),
    output: createOutput({ stdout: { write: () => true }, stderr: { write: (s: string) => stderr.push(s) } }),
    args,
    env: {},
  });

  beforeAll(() => {
    data = syntheticDataDir(Date.UTC(2024, 7, 1), Date.UTC(2024, 9, 15));
    store = mkdtempSync(join(tmpdir(), 'bp-textfile-store-'));
    out = join(mkdtempSync(join(tmpdir(), 'bp-textfile-out-')), 'r');
  });
  afterAll(() => {
    for (const d of [data, store, join(out, '..')]) rmSync(d, { recursive: true, force: true });
  });

  it('backtest reads the given files instead of the built-in list and reports their bad rows by line', async () => {
    stderr = [];
    const args = [...RANGE, '--source', 'files', '--out', out, '--text-file', BAD, '--text-file', NAMED, '--text-columns', 'time=when,text=words'];
    // --text-columns holds for every --text-file: the first file has no "when" column.
    const err = await rejection(backtest(ctx(args)));
    expect(err.code).toBe('ERR_REPLAY_FILE');
    expect(err.message).toContain(`${BAD}: the time column "when" is not in the header (id, created_at, body, site)`);

    stderr = [];
    expect(await backtest(ctx([...RANGE, '--source', 'files', '--out', out, '--text-file', BAD]))).toBe(0);
    const result = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as BacktestResult;
    expect(result.data.texts).toBe(4);
    expect(result.data.provenance).toContain(`file ${BAD}: 4 texts, 5 rows the replay would dead-letter`);
    expect(result.data.provenance.some((p) => p.includes('cryptonews.csv'))).toBe(false);
    const log = stderr.join('');
    expect(log).toContain(`texts: ${BAD}: line 6: created_at 2099-01-01T00:00:00.000Z is in the future (excluded)`);
    expect(log).toContain(`texts: ${BAD}: line 9: row has 2 fields, header has 4`);
  }, 120_000);

  it('evaluate and train read them too and record them in the lineage', async () => {
    stderr = [];
    const evalOut = join(mkdtempSync(join(tmpdir(), 'bp-textfile-eval-')), 'e');
    const evalArgs = [
      '--from',
      '2024-08-10T00:00:00Z',
      '--to',
      '2024-10-10T00:00:00Z',
      '--train-periods',
      '800',
      '--val-periods',
      '100',
      '--test-periods',
      '300',
    ];
    const tiny = ['--epochs', '1', '--units', '4', '--T', '8', '--backend', 'cpu'];
    expect(await evaluate(ctx([...evalArgs, ...tiny, '--out', evalOut, '--text-file', NAMED, '--text-columns', 'time=when,text=words,source=outlet']))).toBe(0);
    const lineage = (JSON.parse(readFileSync(`${evalOut}.json`, 'utf8')) as { lineage: { sources: { role: string; path: string }[] } }).lineage;
    expect(lineage.sources.filter((s) => s.role === 'texts').map((s) => s.path)).toEqual([NAMED]);
    expect(stderr.join('')).toContain(
      `texts: 2 from ${NAMED} (generic columns {"time":"when","text":"words","source":"outlet"}; 2 rows, 0 malformed or future-dated, 0 duplicates)`,
    );
    rmSync(join(evalOut, '..'), { recursive: true, force: true });

    stderr = [];
    const trainArgs = ['--train-from', '2024-08-20T00:00:00Z', '--train-to', '2024-09-15T00:00:00Z', '--val-days', '5', ...tiny, '--no-announce'];
    expect(await train(ctx([...trainArgs, '--text-file', BAD]))).toBe(0);
    const [v] = await listVersions(store, 'lstm-attention');
    expect(v?.meta?.lineage?.sources.filter((s) => s.role === 'texts').map((s) => (s.kind === 'file' ? s.path : s.kind))).toEqual([BAD]);
    expect(stderr.join('')).toContain('texts: line 11: unparseable row');
  }, 240_000);

  it('refuses --text-columns without --text-file, bad columns, and --text-file with --source kafka, before reading anything', async () => {
    const bad = async (f: (c: ReturnType<typeof ctx>) => Promise<number>, args: string[], pattern: RegExp): Promise<void> => {
      const err = await rejection(f(ctx(args)));
      expect(err.code).toBe('ERR_CONFIG_INVALID');
      expect(err.message).toMatch(pattern);
    };
    for (const [f, base] of [
      [backtest, [...RANGE, '--source', 'files']],
      [evaluate, ['--from', '2024-08-10T00:00:00Z']],
      [train, ['--train-to', '2024-09-15T00:00:00Z']],
    ] as const) {
      await bad(f, [...base, '--text-columns', 'time=when'], /--text-columns names the columns of a --text-file: give one/);
      await bad(f, [...base, '--text-file', NAMED, '--text-columns', 'time'], /--text-columns: "time" is not role=column/);
      await bad(f, [...base, '--text-file', ''], /--text-file: an empty path/);
    }
    await bad(backtest, [...RANGE, '--source', 'kafka', '--text-file', NAMED], /--text-file applies to --source files/);
    await bad(evaluate, ['--source', 'kafka', '--text-file', NAMED, '--backend', 'cpu'], /--text-file applies to --source files/);
  }, 60_000);
});
