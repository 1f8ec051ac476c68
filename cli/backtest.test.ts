// `bitpredict backtest` and the final-window ledger, on SYNTHETIC hourly candles (tests never
// compute figures on the real final window) with temp ledgers (never docs/final-window-ledger.json):
// an hourly range past 2025-01-01 is a look at the final window, refused for a design the ledger
// holds unless forced with a reason; a range before it is not a look and is not recorded.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createOutput } from './output.js';
import { backtest } from './backtest.js';
import { backtestDesign, readLedger } from '../trainer/ledger.js';
import { designId, emptyLedgerText } from '../trainer/domain/ledger.js';
import { syntheticDataDir } from '../test/helpers/synthetic-data.js';
import { rejection } from '../test/helpers/errors.js';

const output = createOutput({ stdout: process.stdout, stderr: process.stderr });
const COMMITTED_LEDGER = resolve(import.meta.dirname, '../docs/final-window-ledger.json');

function emptyLedger(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bp-bt-ledger-')), 'ledger.json');
  writeFileSync(path, emptyLedgerText('test'));
  return path;
}

function runner(dataDir: string): (args: string[]) => Promise<number> {
  const config = loadConfig({}, { BITPREDICT_DATA_DIR: dataDir, BITPREDICT_LOG_LEVEL: 'silent' });
  const out = join(mkdtempSync(join(tmpdir(), 'bp-bt-out-')), 'r');
  return (args) =>
    backtest({ config, logger: createLogger({ level: 'silent', name: 'test' }), output, env: {}, args: [...args, '--source', 'files', '--out', out] });
}

const FINAL = ['--interval', '1h', '--from', '2025-01-01T00:00:00Z', '--to', '2025-01-20T00:00:00Z', '--model', 'baseline'];

describe('bitpredict backtest and the final-window ledger', () => {
  it('a 1h range past 2025-01-01 is recorded once; a second look is refused before reading, then forced and recorded', async () => {
    const run = runner(syntheticDataDir());
    const ledger = emptyLedger();
    expect(await run([...FINAL, '--ledger', ledger])).toBe(0);
    const [entry, ...rest] = (await readLedger(ledger)).entries;
    expect(rest).toHaveLength(0);
    expect(entry).toMatchObject({
      kind: 'backtest',
      design: designId(await backtestDesign({ kind: 'baseline' })),
      range: { from: '2025-01-01T00:00:00.000Z', to: '2025-01-20T00:00:00.000Z' },
    });
    expect(entry?.command.slice(0, 2)).toEqual(['bitpredict', 'backtest']);
    expect(entry?.headline.n).toBeGreaterThan(400);
    expect(Object.keys(entry?.headline ?? {})).toEqual(expect.arrayContaining(['persistence.rmse', 'ema-drift.rmse', 'buyAndHold.totalReturn']));

    // Refused before any event is read: with an empty data folder, a read would fail otherwise.
    const refused = await rejection(runner(mkdtempSync(join(tmpdir(), 'bp-bt-nodata-')))([...FINAL, '--ledger', ledger]));
    expect(refused.code).toBe('ERR_FINAL_WINDOW');
    expect(refused.message).toContain(`already evaluated for design ${entry?.design ?? '?'} on ${entry?.date ?? '?'}`);
    expect((await readLedger(ledger)).entries).toHaveLength(1);

    expect(await run([...FINAL, '--ledger', ledger, '--force-reason', 'checking the fee model'])).toBe(0);
    const entries = (await readLedger(ledger)).entries;
    expect(entries).toHaveLength(2);
    expect(entries[0]).toEqual(entry);
    expect(entries[1]?.forced).toEqual({ reason: 'checking the fee model' });
  }, 120_000);

  it('a range that ends by 2025-01-01 is no look: nothing recorded, and --ledger / --force-reason are refused', async () => {
    const run = runner(syntheticDataDir());
    const args = ['--interval', '1h', '--from', '2024-12-01T00:00:00Z', '--to', '2025-01-01T00:00:00Z', '--model', 'baseline'];
    // No --ledger: a look would be appended to the committed ledger, which must stay as it is.
    const committed = readFileSync(COMMITTED_LEDGER, 'utf8');
    expect(await run(args)).toBe(0);
    expect(readFileSync(COMMITTED_LEDGER, 'utf8')).toBe(committed);
    await expect(run([...args, '--ledger', emptyLedger()])).rejects.toThrow(/apply only to a backtest of 1h data past 2025-01-01/);
  }, 120_000);

  it('a malformed ledger fails clearly before any data is read', async () => {
    const ledger = join(mkdtempSync(join(tmpdir(), 'bp-bt-ledger-')), 'ledger.json');
    copyFileSync(COMMITTED_LEDGER, ledger);
    writeFileSync(ledger, readFileSync(ledger, 'utf8').slice(0, 200));
    const err = await rejection(runner(mkdtempSync(join(tmpdir(), 'bp-bt-nodata-')))([...FINAL, '--ledger', ledger]));
    expect(err.code).toBe('ERR_VALIDATION');
    expect(err.message).toContain(`final-window ledger ${ledger} is not valid JSON`);
  });
});
