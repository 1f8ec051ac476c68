// The ledger's file side on temp copies (the committed docs/final-window-ledger.json is only read):
// reading, the atomic append that keeps earlier bytes, the guard the CLI commands open before they
// read data, and the design of a backtest's model.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { appendEntry, backtestDesign, currentCommit, openFinalWindowRun, readLedger } from './ledger.js';
import { designId, emptyLedgerText, lstmPointDesign, type LedgerEntry } from './domain/ledger.js';
import { FEATURE_SET_VERSION } from '../core/features/indicators.js';
import { rejection } from '../test/helpers/errors.js';

const COMMITTED = resolve(import.meta.dirname, '../docs/final-window-ledger.json');
const POINT = lstmPointDesign({ T: 48, units: 32, attentionUnits: 16, dropout: 0, featureSetVersion: 'fs-2' });

function tempCopy(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bp-ledger-'));
  const path = join(dir, 'ledger.json');
  copyFileSync(COMMITTED, path);
  return { dir, path };
}

const ENTRY: LedgerEntry = {
  date: '2026-12-01T00:00:00.000Z',
  commit: 'abc1234',
  design: designId(POINT),
  designDescription: 'x',
  command: ['bitpredict', 'evaluate'],
  kind: 'evaluate',
  range: { from: '2025-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' },
  headline: { n: 1 },
};

describe('readLedger', () => {
  it('reads the committed ledger', async () => {
    expect((await readLedger(COMMITTED)).entries.map((e) => e.commit).slice(0, 2)).toEqual(['489519c', '2b8b0e7']);
  });

  it('gives ERR_VALIDATION with the path for malformed JSON, ERR_CONFIG_INVALID for a missing file', async () => {
    const { path } = tempCopy();
    writeFileSync(path, '{"format": "bitpredict-final-window-ledger/1", "entries": [ {"date": ');
    const bad = await rejection(readLedger(path));
    expect(bad.code).toBe('ERR_VALIDATION');
    expect(bad.message).toContain(`final-window ledger ${path} is not valid JSON`);
    const missing = await rejection(readLedger(join(path, '..', 'nope.json')));
    expect(missing.code).toBe('ERR_CONFIG_INVALID');
    expect(missing.message).toMatch(/nope.json cannot be read \(ENOENT\); run from the project root or pass --ledger <path>/);
  });
});

describe('appendEntry', () => {
  it('keeps the earlier bytes, adds the entry last, and leaves no temp file', async () => {
    const { dir, path } = tempCopy();
    const before = readFileSync(path, 'utf8');
    await appendEntry(path, ENTRY);
    const after = readFileSync(path, 'utf8');
    const kept = before.slice(0, before.trimEnd().lastIndexOf(']')).trimEnd();
    expect(after.startsWith(kept)).toBe(true);
    expect((await readLedger(path)).entries.at(-1)).toEqual(ENTRY);
    expect(readdirSync(dir)).toEqual(['ledger.json']);
  });

  it('refuses a bad entry and leaves the file as it was', async () => {
    const { path } = tempCopy();
    const before = readFileSync(path, 'utf8');
    const err = await rejection(appendEntry(path, { ...ENTRY, headline: { rmse: Number.POSITIVE_INFINITY } }));
    expect(err.message).toMatch(/headline.rmse must be a finite number/);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });
});

describe('openFinalWindowRun (the guard evaluate and backtest call before reading data)', () => {
  it('refuses a second look at the historic design with ERR_FINAL_WINDOW and writes nothing', async () => {
    const { path } = tempCopy();
    const before = readFileSync(path, 'utf8');
    const err = await rejection(openFinalWindowRun({ ledgerPath: path, design: POINT, kind: 'evaluate', command: ['bitpredict', 'evaluate'] }));
    expect(err.code).toBe('ERR_FINAL_WINDOW');
    expect(err.message).toMatch(
      /^the final window was already evaluated for design 1d775f83beac on 2026-11-27T12:48:42.000Z \(489519c\) and 1 more time\(s\), the last on 2026-11-27T13:06:52.000Z; a second look needs --force-reason "\.\.\." and is recorded$/,
    );
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('records a forced look with its reason, the command and the headline', async () => {
    const { path } = tempCopy();
    const before = (await readLedger(path)).entries.length;
    const run = await openFinalWindowRun({
      ledgerPath: path,
      design: POINT,
      forceReason: 'the report misprinted the DM test',
      kind: 'evaluate',
      command: ['bitpredict', 'evaluate', '--purpose', 'final', '--force-reason', 'the report misprinted the DM test'],
      commit: 'abc1234',
      now: () => new Date(Date.UTC(2026, 11, 1)),
    });
    expect(run.previous).toHaveLength(2);
    const entry = await run.record({ from: '2025-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' }, { n: 10, 'lstm-attention.rmse': 0.0047 });
    const ledger = await readLedger(path);
    // appended after every committed entry (the committed ledger grows with each final run)
    expect(ledger.entries).toHaveLength(before + 1);
    expect(ledger.entries.at(-1)).toEqual(entry);
    expect(entry).toMatchObject({
      date: '2026-12-01T00:00:00.000Z',
      commit: 'abc1234',
      design: '1d775f83beac',
      forced: { reason: 'the report misprinted the DM test' },
    });
    // and the next unforced look names all three
    await expect(openFinalWindowRun({ ledgerPath: path, design: POINT, kind: 'evaluate', command: ['x'] })).rejects.toThrow(/and 2 more time\(s\)/);
  });

  it('lets a new design look once, unforced, then refuses it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-ledger-'));
    const path = join(dir, 'l.json');
    writeFileSync(path, emptyLedgerText('test'));
    const design = { ...POINT, head: 'quantile-pinball', horizons: [1, 4, 24] };
    const run = await openFinalWindowRun({ ledgerPath: path, design, kind: 'backtest', command: ['bitpredict', 'backtest'], commit: 'abc1234' });
    expect(run.forced).toBeUndefined();
    const entry = await run.record({ from: '2025-01-01T00:00:00.000Z', to: '2025-02-01T00:00:00.000Z' }, { n: 3 });
    expect(entry).not.toHaveProperty('forced');
    expect(entry.kind).toBe('backtest');
    const err = await rejection(openFinalWindowRun({ ledgerPath: path, design, kind: 'backtest', command: ['x'] }));
    expect(err.code).toBe('ERR_FINAL_WINDOW');
  });
});

describe('currentCommit', () => {
  it('is a short sha or "uncommitted", and "uncommitted" outside a git repository', () => {
    expect(currentCommit()).toMatch(/^([0-9a-f]{7,}|uncommitted)$/);
    expect(currentCommit(mkdtempSync(join(tmpdir(), 'bp-nogit-')))).toBe('uncommitted');
  });
});

describe('backtestDesign', () => {
  it('the baseline is the EMA-drift design of the current feature set', async () => {
    const d = await backtestDesign({ kind: 'baseline' });
    expect(d).toMatchObject({ model: 'ema-drift', featureSetVersion: FEATURE_SET_VERSION, horizons: [1] });
  });

  it("an artifact's design comes from its meta.json; --units of a walk-forward retrain changes it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-art-'));
    const meta = {
      name: 'lstm-attention',
      version: 'v1',
      featureSetVersion: 'fs-2',
      featureColumns: ['a'],
      normalizer: { columns: ['a'], mean: [0], std: [1] },
      T: 48,
      F: 1,
      returnScale: 0.01,
      trainedFrom: 0,
      trainedTo: 1,
      metrics: {},
      backend: 'wasm',
      codeVersion: 'test',
      createdAt: '2026-01-01T00:00:00.000Z',
      expiresAt: null,
      seed: 1,
      hyperparameters: { units: 32 },
    };
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
    const artifact = { kind: 'artifact' as const, dir, label: 'v1' };
    expect(designId(await backtestDesign(artifact))).toBe(designId(POINT));
    expect(designId(await backtestDesign(artifact, 8))).not.toBe(designId(POINT));
  });

  it('refuses an unreadable or invalid meta.json with the file named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-art-'));
    await expect(backtestDesign({ kind: 'artifact', dir, label: 'x' })).rejects.toThrow(/meta.json: cannot be read as JSON/);
    writeFileSync(join(dir, 'meta.json'), '{"name": "lstm-attention"}');
    await expect(backtestDesign({ kind: 'artifact', dir, label: 'x' })).rejects.toThrow(/meta.json: version must be a path-safe name/);
  });
});
