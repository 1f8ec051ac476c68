// The final-window ledger's rule, format and design ids, without files. The committed ledger is
// read here (never written): it must parse and hold the two point-forecast runs of 2026-11-27.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  appendedLedgerText,
  checkFinalWindowRun,
  describeDesign,
  designId,
  emptyLedgerText,
  headlineOf,
  distributionalHeadlineOf,
  DISTRIBUTIONAL_HEAD,
  lstmDistributionalDesign,
  lstmPointDesign,
  parseLedger,
  reachesFinalWindow,
  type LedgerEntry,
  type ModelDesign,
} from './ledger.js';
import { BitPredictError } from '../../core/errors.js';
import { FEATURE_SET_VERSION } from '../../core/features/indicators.js';
import { MODEL_DEFAULTS } from '../../core/models/model.js';
import { evaluateForecast, buyAndHold } from './metrics.js';
import { scoreHorizon } from '../../core/forecast/evaluate.js';

const POINT = lstmPointDesign({ T: 48, units: 32, attentionUnits: 16, dropout: 0, featureSetVersion: 'fs-2' });

function entry(over: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    date: '2026-12-01T10:00:00.000Z',
    commit: 'abc1234',
    design: designId(POINT),
    designDescription: describeDesign(POINT),
    command: ['bitpredict', 'evaluate', '--purpose', 'final'],
    kind: 'evaluate',
    range: { from: '2025-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' },
    headline: { n: 9504, 'lstm-attention.rmse': 0.0047 },
    ...over,
  };
}

function caught(f: () => unknown): BitPredictError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(BitPredictError);
    return err as BitPredictError;
  }
  throw new Error('expected a BitPredictError, nothing was thrown');
}

describe('designId', () => {
  it('is 12 hex digits of sha256, stable under key order and horizon order', () => {
    const id = designId(POINT);
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    // The committed ledger's entries were written with this id: it must never drift.
    expect(id).toBe('1d775f83beac');
    const reordered: ModelDesign = {
      horizons: [1],
      head: POINT.head,
      featureSetVersion: 'fs-2',
      architecture: { dropout: 0, units: 32, T: 48, attentionUnits: 16 },
      model: 'lstm-attention',
    };
    expect(designId(reordered)).toBe(id);
    expect(designId({ ...POINT, horizons: [24, 1, 4] })).toBe(designId({ ...POINT, horizons: [1, 4, 24] }));
  });

  it('changes with every part of the design', () => {
    const id = designId(POINT);
    const variants: ModelDesign[] = [
      { ...POINT, model: 'gru-attention' },
      { ...POINT, architecture: { ...POINT.architecture, units: 64 } },
      { ...POINT, architecture: { ...POINT.architecture, T: 96 } },
      { ...POINT, featureSetVersion: 'fs-3' },
      { ...POINT, head: 'quantile-pinball' },
      { ...POINT, horizons: [1, 4, 24] },
    ];
    const ids = new Set(variants.map(designId));
    expect(ids.size).toBe(variants.length);
    expect(ids.has(id)).toBe(false);
  });

  it('refuses a design with missing or non-finite parts', () => {
    expect(caught(() => designId({ ...POINT, model: '' })).message).toMatch(/model must be a non-empty string/);
    expect(caught(() => designId({ ...POINT, horizons: [] })).message).toMatch(/horizons must be a non-empty list/);
    expect(caught(() => designId({ ...POINT, horizons: [0] })).message).toMatch(/horizons/);
    expect(caught(() => designId({ ...POINT, architecture: { T: Number.NaN } })).message).toMatch(/architecture.T must be a finite number/);
    expect(caught(() => designId({ ...POINT, architecture: { T: {} as unknown as number } })).code).toBe('ERR_VALIDATION');
  });

  it("today's default point model is the design of the two historic runs (fs-2, T 48, 32/16 units)", () => {
    const today = lstmPointDesign({
      T: 48,
      units: MODEL_DEFAULTS.units,
      attentionUnits: MODEL_DEFAULTS.attentionUnits,
      dropout: MODEL_DEFAULTS.dropout,
      featureSetVersion: FEATURE_SET_VERSION,
    });
    expect(designId(today)).toBe(designId(POINT));
  });
});

describe('reachesFinalWindow', () => {
  const start = Date.UTC(2025, 0, 1);
  it('is true for hourly ranges that end after 2025-01-01 only', () => {
    expect(reachesFinalWindow('1h', { from: Date.UTC(2024, 0, 1), to: start })).toBe(false);
    expect(reachesFinalWindow('1h', { from: Date.UTC(2024, 0, 1), to: start + 1 })).toBe(true);
    expect(reachesFinalWindow('1h', { from: start, to: Date.UTC(2025, 6, 1) })).toBe(true);
    expect(reachesFinalWindow('1m', { from: start, to: Date.UTC(2025, 6, 1) })).toBe(false);
  });
});

describe('checkFinalWindowRun', () => {
  const ledger = parseLedger(appendedLedgerText(emptyLedgerText('test'), entry(), 'mem'), 'mem');

  it('allows the first look at a design', () => {
    const other = designId({ ...POINT, head: 'quantile-pinball' });
    expect(checkFinalWindowRun(ledger, other)).toEqual({ designId: other, previous: [] });
  });

  it('refuses a second look with ERR_FINAL_WINDOW naming the design, the date and the commit', () => {
    const err = caught(() => checkFinalWindowRun(ledger, designId(POINT)));
    expect(err.code).toBe('ERR_FINAL_WINDOW');
    expect(err.retryable).toBe(false);
    expect(err.message).toBe(
      'the final window was already evaluated for design 1d775f83beac on 2026-12-01T10:00:00.000Z (abc1234); a second look needs --force-reason "..." and is recorded',
    );
  });

  it('refuses an empty or blank reason', () => {
    expect(caught(() => checkFinalWindowRun(ledger, designId(POINT), '')).message).toMatch(/the reason given was empty/);
    expect(caught(() => checkFinalWindowRun(ledger, designId(POINT), '  \t')).code).toBe('ERR_FINAL_WINDOW');
  });

  it('allows a forced look and returns the reason to record', () => {
    const p = checkFinalWindowRun(ledger, designId(POINT), '  a bug in the report, figures unchanged ');
    expect(p.forced).toEqual({ reason: 'a bug in the report, figures unchanged' });
    expect(p.previous).toHaveLength(1);
  });

  it('counts every earlier look in the message', () => {
    const two = parseLedger(appendedLedgerText(appendedLedgerText(emptyLedgerText('t'), entry(), 'm'), entry({ date: '2026-12-02T00:00:00.000Z' }), 'm'), 'm');
    expect(caught(() => checkFinalWindowRun(two, designId(POINT))).message).toMatch(
      /on 2026-12-01T10:00:00.000Z \(abc1234\) and 1 more time\(s\), the last on 2026-12-02/,
    );
  });
});

describe('parseLedger', () => {
  it('names the source on malformed JSON', () => {
    const err = caught(() => parseLedger('{"format": "bitpredict-final-window-ledger/1", "entries": [', '/x/ledger.json'));
    expect(err.code).toBe('ERR_VALIDATION');
    expect(err.message).toMatch(/^final-window ledger \/x\/ledger.json is not valid JSON/);
  });

  it('refuses a wrong shape, format, or key order', () => {
    expect(caught(() => parseLedger('[]', 'L')).message).toMatch(/must be a JSON object/);
    expect(caught(() => parseLedger('{"format": "v0", "entries": []}', 'L')).message).toMatch(/format must be "bitpredict-final-window-ledger\/1"/);
    expect(caught(() => parseLedger('{"format": "bitpredict-final-window-ledger/1", "entries": {}}', 'L')).message).toMatch(/entries must be a list/);
    expect(caught(() => parseLedger('{"format": "bitpredict-final-window-ledger/1", "entries": [], "x": 1}', 'L')).message).toMatch(/must be the last key/);
    expect(caught(() => parseLedger('', 'L')).message).toMatch(/not valid JSON/);
  });

  it('refuses a bad entry, naming its number and field', () => {
    const text = (e: unknown): string => JSON.stringify({ format: 'bitpredict-final-window-ledger/1', entries: [entry(), e] });
    const cases: [unknown, RegExp][] = [
      [{ ...entry(), date: 'yesterday' }, /entry 2: date must be an ISO 8601 time/],
      [{ ...entry(), design: 'xyz' }, /entry 2: design must be a design id/],
      [{ ...entry(), kind: 'peek' }, /entry 2: kind must be evaluate or backtest/],
      [{ ...entry(), command: [] }, /entry 2: command must be a non-empty list/],
      [{ ...entry(), range: { from: '2026-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z' } }, /entry 2: range from must be before to/],
      [{ ...entry(), range: { from: '2025-01-01' } }, /entry 2: range must be \{from, to\}/],
      [{ ...entry(), headline: { rmse: 'NaN' } }, /entry 2: headline.rmse must be a finite number/],
      [{ ...entry(), headline: { rmse: null } }, /headline.rmse must be a finite number, got null/],
      [{ ...entry(), forced: { reason: '' } }, /entry 2: forced must be \{reason\}/],
      [{ ...entry(), commit: '' }, /entry 2: commit must be a non-empty string/],
      [7, /entry 2: \(entry\) must be a JSON object/],
    ];
    for (const [e, re] of cases) expect(caught(() => parseLedger(text(e), 'L')).message).toMatch(re);
  });
});

describe('appendedLedgerText', () => {
  it('keeps every byte of the earlier entries, in order, and adds the new one last', () => {
    // Hand layout (odd spacing) must survive: the splice never re-serialises old entries.
    const old = `{"format":"bitpredict-final-window-ledger/1","about":"x","entries":[ ${JSON.stringify(entry())} ,\n${JSON.stringify(entry({ commit: 'def5678' }))}   ]   }\n`;
    const prefix = old.slice(0, old.lastIndexOf('}', old.lastIndexOf(']')) + 1);
    const next = appendedLedgerText(old, entry({ commit: 'uncommitted', forced: { reason: 'why' } }), 'L');
    expect(next.startsWith(prefix)).toBe(true);
    const parsed = parseLedger(next, 'L');
    expect(parsed.entries.map((e) => e.commit)).toEqual(['abc1234', 'def5678', 'uncommitted']);
    expect(parsed.entries[2]?.forced).toEqual({ reason: 'why' });
    // appending again keeps the previous text whole
    const again = appendedLedgerText(next, entry({ commit: 'fff0000' }), 'L');
    expect(again.startsWith(next.slice(0, next.trimEnd().lastIndexOf(']')).trimEnd())).toBe(true);
  });

  it('appends to an empty ledger', () => {
    const next = appendedLedgerText(emptyLedgerText('about'), entry(), 'L');
    expect(parseLedger(next, 'L').entries).toEqual([entry()]);
    expect(next.endsWith('\n  ]\n}\n')).toBe(true);
  });

  it('refuses an entry the reader would refuse, and a malformed ledger', () => {
    expect(caught(() => appendedLedgerText(emptyLedgerText('a'), entry({ headline: { rmse: Number.NaN } }), 'L')).message).toMatch(
      /new final-window ledger entry: headline.rmse must be a finite number/,
    );
    expect(caught(() => appendedLedgerText('{"entries": [', entry(), '/p/l.json')).message).toMatch(/\/p\/l.json is not valid JSON/);
  });
});

describe('headlineOf', () => {
  it('flattens the printed figures, leaving out what is undefined', () => {
    const actual = [0.01, -0.02, 0.005, 0.003, -0.001];
    const models = [
      evaluateForecast({ name: 'lstm-attention', pred: [0.001, -0.001, 0.002, 0, 0.001] }, actual),
      evaluateForecast({ name: 'persistence', pred: [0, 0, 0, 0, 0] }, actual),
    ];
    const h = headlineOf(actual.length, models, buyAndHold(actual).summary);
    expect(h.n).toBe(5);
    expect(h['lstm-attention.rmse']).toBeCloseTo(models[0]!.regression.rmse!, 15);
    expect(h['lstm-attention.directionAccuracy']).toBe(models[0]!.direction.accuracy);
    expect(h['persistence.dmP']).toBeUndefined();
    expect(Object.values(h).every((v) => Number.isFinite(v))).toBe(true);
    expect(headlineOf(0, [evaluateForecast({ name: 'm', pred: [] }, [])], buyAndHold([]).summary)).not.toHaveProperty('m.rmse');
  });
});

describe('the committed ledger (docs/final-window-ledger.json)', () => {
  const text = readFileSync(resolve(import.meta.dirname, '../../docs/final-window-ledger.json'), 'utf8');
  const ledger = parseLedger(text, 'docs/final-window-ledger.json');

  it('holds the two point-forecast runs of 2026-11-27, the second one forced, both of the same design', () => {
    expect(ledger.entries.length).toBeGreaterThanOrEqual(2);
    const [a, b] = ledger.entries;
    expect(a?.commit).toBe('489519c');
    expect(a?.date).toBe('2026-11-27T12:48:42.000Z');
    expect(a?.headline['lstm-attention.rmse']).toBe(0.004713);
    expect(a?.headline['persistence.rmse']).toBe(0.004699);
    expect(a?.headline.n).toBe(9504);
    expect(b?.commit).toBe('2b8b0e7');
    expect(b?.date).toBe('2026-11-27T13:06:52.000Z');
    expect(b?.headline['lstm-attention.rmse']).toBe(0.004703);
    expect(b?.headline['lstm-attention.directionAccuracy']).toBe(0.505);
    expect(b?.forced?.reason).toMatch(/second look/);
    expect(a?.design).toBe(designId(POINT));
    expect(b?.design).toBe(designId(POINT));
    expect(a?.designDescription).toBe(describeDesign(POINT));
  });

  it('refuses a third unforced look at that design', () => {
    expect(caught(() => checkFinalWindowRun(ledger, designId(POINT))).message).toMatch(/2026-11-27T12:48:42.000Z \(489519c\) and 1 more time/);
  });
});

describe('the distributional design', () => {
  const dist = (over: Partial<Parameters<typeof lstmDistributionalDesign>[0]> = {}): ModelDesign =>
    lstmDistributionalDesign({ T: 48, units: 32, attentionUnits: 16, dropout: 0, featureSetVersion: 'fs-2', horizons: [1, 4, 24], dof: 5, ...over });

  it('has its own id, apart from the point design of the two historic entries', () => {
    const id = designId(dist());
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(id).not.toBe(designId(POINT));
    expect(designId(POINT)).toBe('1d775f83beac');
    expect(dist().head).toBe(DISTRIBUTIONAL_HEAD);
    expect(describeDesign(dist())).toBe(
      'lstm-attention (T 48, attentionUnits 16, dof 5, dropout 0, shapes calibrated-on-validation, units 32), head student-t-nll, horizons 1, 4, 24, feature set fs-2',
    );
  });

  it('changes with the horizons, the degrees of freedom, the size and the feature set, not with horizon order', () => {
    const id = designId(dist());
    expect(designId(dist({ horizons: [24, 1, 4] }))).toBe(id);
    for (const other of [dist({ horizons: [1, 4] }), dist({ dof: 4 }), dist({ units: 16 }), dist({ featureSetVersion: 'fs-3' }), dist({ T: 24 })])
      expect(designId(other)).not.toBe(id);
  });

  it('refuses a design with bad horizons or a non-finite knob', () => {
    expect(() => designId(dist({ horizons: [] }))).toThrow(/horizons/);
    expect(() => designId(dist({ dof: Number.NaN }))).toThrow(/architecture.dof/);
  });
});

describe('distributionalHeadlineOf', () => {
  it('flattens per horizon the scores of every forecaster and the model DM against persistence, the best baseline and climatology', () => {
    const d = { mean: 0, scale: 1, quantiles: [-3, -2, -1, 0, 1, 2, 3], probUp: 0.5 };
    const wide = { ...d, scale: 2, quantiles: d.quantiles.map((q) => 2 * q) };
    const ys = [0.5, -1.5, 2.5, null, -0.2, 0.7, 1.1, -0.9];
    const mk = (x: typeof d) => ys.map((y, i) => ({ time: i, d: x, y, pit: y === null ? null : 0.5 }));
    const hs = scoreHorizon(
      1,
      [
        { name: 'lstm-attention', kind: 'model', items: mk(d) },
        { name: 'persistence', kind: 'baseline', items: mk(wide) },
      ],
      ys.map(() => 0.5),
    );
    const h = distributionalHeadlineOf('lstm-attention', [hs]);
    expect(h['h1.n']).toBe(7);
    expect(h['h1.missing']).toBe(1);
    expect(h['h1.lstm-attention.pinball']).toBe(hs.forecasters[0]!.summary.pinball);
    expect(h['h1.persistence.cov80']).toBe(hs.forecasters[1]!.coverage[1]!.coverage);
    expect(h['h1.lstm-attention.dm.qlike.vsPersistence.p']).toBe(hs.forecasters[0]!.dm.persistence!.qlike!.pValue);
    expect(h['h1.lstm-attention.dm.pinball.vsBest.stat']).toBe(hs.forecasters[0]!.dm.persistence!.pinball!.stat);
    expect(h['h1.persistence.dm.qlike.vsPersistence.p']).toBeUndefined();
    expect(Object.values(h).every((v) => Number.isFinite(v))).toBe(true);
  });
});
