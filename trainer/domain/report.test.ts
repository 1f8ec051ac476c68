import { describe, expect, it } from 'vitest';
import { buyAndHold, evaluateForecast, type ModelMetrics } from './metrics.js';
import {
  escapeHtml,
  fanOf,
  fmt,
  goalsOf,
  renderReport,
  verdictOf,
  type DistributionalEvaluation,
  type EvaluationResult,
  type FoldEvaluation,
} from './report.js';
import { scoreHorizon, type ScoredItem } from '../../core/forecast/evaluate.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

/** Deterministic pseudo-random returns. */
function series(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * 0.02;
  });
}

function build(modelPred: (actual: number[]) => number[], name = 'lstm-attn'): EvaluationResult {
  const n = 120;
  const actual = series(n, 42);
  const forecasts: Record<string, number[]> = {
    [name]: modelPred(actual),
    persistence: new Array<number>(n).fill(0),
    'ema-drift': actual.map((_, i) => (i === 0 ? 0 : actual[i - 1]! * 0.5)),
  };
  const evalAll = (from: number, to: number): ModelMetrics[] =>
    Object.entries(forecasts).map(([k, v]) => evaluateForecast({ name: k, pred: v.slice(from, to) }, actual.slice(from, to)));
  const folds: FoldEvaluation[] = [0, 1].map((k) => ({
    index: k,
    trainFrom: new Date(T0).toISOString(),
    trainTo: new Date(T0 + (100 + 60 * k) * H).toISOString(),
    valFrom: new Date(T0 + (100 + 60 * k) * H).toISOString(),
    valTo: new Date(T0 + (110 + 60 * k) * H).toISOString(),
    testFrom: new Date(T0 + (110 + 60 * k) * H).toISOString(),
    testTo: new Date(T0 + (170 + 60 * k) * H).toISOString(),
    nTrain: 100 + 60 * k,
    nVal: 10,
    nTest: 60,
    models: evalAll(60 * k, 60 * k + 60),
    buyAndHold: buyAndHold(actual.slice(60 * k, 60 * k + 60)).summary,
  }));
  return {
    schemaVersion: 1,
    generatedAt: '2026-01-01T00:00:00.000Z',
    purpose: 'development',
    model: { name, version: 'v<1>&"x"', backend: 'wasm', featureSetVersion: 'fs-2' },
    data: { symbol: 'BTCUSDT', interval: '1h', from: folds[0]!.testFrom, to: folds[1]!.testTo, nWindows: n },
    costs: { feeBps: 10, slippageBps: 5, perSide: true },
    trading: { costBpsPerSide: 15, threshold: 0, mode: 'long-flat', periodsPerYear: 8760 },
    config: { T: 48, epochs: 5, note: '<script>alert(1)</script>', bad: Number.NaN, nested: { a: [1, 2] } },
    folds,
    overall: { n, models: evalAll(0, n), buyAndHold: buyAndHold(actual).summary },
    series: { eventTimes: actual.map((_, i) => T0 + (110 + i) * H), actual, forecasts },
  };
}

function count(s: string, sub: string): number {
  return s.split(sub).length - 1;
}

describe('renderReport', () => {
  it('renders a self-contained page with the verdict, every fold, balanced SVG and no NaN', () => {
    const r = build((a) => a.map((x, i) => (i % 3 === 0 ? -x : x) * 0.3)); // noisy, weak
    const html = renderReport(r);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<h2>Point forecasts (secondary): verdict</h2>');
    expect(html).toContain(escapeHtml(verdictOf(r).text));
    expect(html).toContain('<h3>Fold 0</h3>');
    expect(html).toContain('<h3>Fold 1</h3>');
    expect(count(html, '<svg')).toBe(4);
    expect(count(html, '</svg>')).toBe(4);
    expect(count(html, '<table')).toBe(count(html, '</table>'));
    expect(html).toContain('<polyline');
    expect(html).toContain('<circle');
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\bsrc=|\bhref=/); // nothing external
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('v&lt;1&gt;&amp;&quot;x&quot;');
    expect(html).toContain('wasm');
    expect(html).toContain('fs-2');
    expect(html).toContain('buy-and-hold');
  });

  it('says "does NOT beat" for a model no better than persistence', () => {
    const r = build((a) => a.map(() => 0.001));
    const v = verdictOf(r);
    expect(v.beatsPersistence).toBe(false);
    expect(v.text).toContain('does NOT beat');
    expect(renderReport(r)).toContain('does NOT beat');
  });

  it('says a clearly worse model is significantly worse', () => {
    const v = verdictOf(build((a) => a.map((x) => -x)));
    expect(v.beatsPersistence).toBe(false);
    expect(v.text).toContain('significantly WORSE');
  });

  it('says "beats" only with lower MSE and DM p < 0.05 (an oracle-like model)', () => {
    const r = build((a) => a.map((x) => x * 0.9));
    const v = verdictOf(r);
    const m = r.overall.models[0]!;
    expect(m.dmVsPersistence.pValue!).toBeLessThan(0.05);
    expect(v.beatsPersistence).toBe(true);
    expect(v.text).toContain('beats the naive');
  });

  it('handles a result without series or folds, printing n/a for missing numbers', () => {
    const r = build((a) => a.map(() => 0));
    delete r.series;
    r.folds = [];
    const html = renderReport(r);
    expect(count(html, '<svg')).toBe(0);
    expect(html).toContain('No folds.');
    expect(html).toContain('n/a');
    expect(html).not.toMatch(/NaN/);
    expect(fmt(Number.NaN)).toBe('n/a');
    expect(fmt(null)).toBe('n/a');
    expect(fmt(0.000123456)).toBe('1.235e-4');
  });

  it('the result is JSON-serialisable and round-trips', () => {
    const r = build((a) => a.map((x) => x * 0.1));
    r.config = { T: 48 };
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

// ---------------------------------------------------------------------------------------------
// The distributional sections
// ---------------------------------------------------------------------------------------------

/** Hand-made location-scale forecasts: quantiles -3s..3s at the grid, so the 80 % interval is [-2s, 2s]. */
function items(ys: (number | null)[], s: number, p = 0.5): ScoredItem[] {
  const d = { mean: 0, scale: s, quantiles: [-3, -2, -1, 0, 1, 2, 3].map((q) => q * s), probUp: p };
  return ys.map((y, i) => ({ time: T0 + i * H, d, y, pit: y === null ? null : Math.min(1, Math.abs(y) / 4) }));
}

/** Outcomes of mean |y| about 1 with a gap at index 7. */
function outcomes(n: number): (number | null)[] {
  return series(n, 7).map((v, i) => (i === 7 ? null : v * 150));
}

function distributional(modelScale: number, n = 400): DistributionalEvaluation {
  const ys = outcomes(n);
  const model = items(ys, modelScale, 0.55);
  const pers = items(ys, 2);
  const scores = [1, 4].map((h) =>
    scoreHorizon(
      h,
      [
        { name: 'lstm-attention', kind: 'model', items: model },
        { name: 'persistence', kind: 'baseline', items: pers },
        { name: 'garch', kind: 'baseline', items: items(ys, 1.5) },
        { name: 'har-rv', kind: 'baseline', items: items(ys, 1.6) },
      ],
      ys.map(() => 0.5),
    ),
  );
  return { model: 'lstm-attention', horizons: [1, 4], scores, fans: [1, 4].map((h) => fanOf(h, model.slice(-50), 'garch', items(ys, 1.5).slice(-50))) };
}

describe('fanOf', () => {
  it('takes the central intervals of the model and the baseline 80 % band at the same times, and keeps a missing outcome missing', () => {
    const f = fanOf(1, items([0.5, null, -1], 1), 'garch', items([0.5, null, -1], 2));
    expect(f.y).toEqual([0.5, null, -1]);
    expect(f.model.map((b) => [b.level, b.lo[0], b.hi[0]])).toEqual([
      [0.5, -1, 1],
      [0.8, -2, 2],
      [0.9, -3, 3],
    ]);
    expect(f.baseline).toEqual({ name: 'garch', level: 0.8, lo: [-4, -4, -4], hi: [4, 4, 4] });
    expect(f.times).toEqual([T0, T0 + H, T0 + 2 * H]);
  });
});

describe('goalsOf', () => {
  it('judges the scale goal on QLIKE against persistence, the coverage goal on 80 and 90 % with Kupiec, and only reports direction', () => {
    const goals = goalsOf(distributional(1));
    expect(goals.map((g) => g.id)).toEqual(['scale', 'coverage', 'direction']);
    const d = distributional(1);
    const m = d.scores[0]!.forecasters[0]!;
    const dm = m.dm.persistence!.qlike!;
    expect(goals[0]!.met).toBe(dm.meanDiff < 0 && dm.pValue < 0.001);
    const ok = [1, 2].every((k) => Math.abs(m.coverage[k]!.coverage - m.coverage[k]!.level) <= 0.02 && m.coverage[k]!.kupiecP >= 0.05);
    expect(goals[1]!.met).toBe(ok);
    expect(goals[2]!.met).toBeNull();
    expect(goals[2]!.text).toMatch(/climatology/);
    expect(goals[0]!.text).toMatch(/har-rv .*garch/);
  });

  it('says NOT MET when the model is the constant-scale forecaster itself (no skill over persistence)', () => {
    const g = goalsOf(distributional(2));
    expect(g[0]!.met).toBe(false);
    expect(g[0]!.text).toContain('NOT MET');
  });

  it('says nothing can be judged without scores', () => {
    const g = goalsOf({ model: 'x', horizons: [], scores: [], fans: [] });
    expect(g).toHaveLength(1);
    expect(g[0]!.met).toBeNull();
  });
});

describe('renderReport with distributional scores', () => {
  it('shows per horizon the scores with DM, the coverage table with Kupiec and Christoffersen, the fan chart, the reliability diagram and the PIT histogram', () => {
    const r = { ...build((a) => a.map(() => 0)), distributional: distributional(1) };
    const html = renderReport(r);
    for (const h of [1, 4]) {
      expect(html).toContain(`<section class="horizon" id="h${h}">`);
      expect(html).toContain(`Fan chart, ${h}-step log return`);
      expect(html).toContain(`Reliability of P(up), ${h} step(s)`);
      expect(html).toContain(`PIT histogram, ${h} step(s): lstm-attention`);
    }
    expect(count(html, '<table class="coverage">')).toBe(2);
    expect(count(html, '<table class="scores">')).toBe(2);
    expect(html).toContain('Kupiec p');
    expect(html).toContain('Christoffersen cc p');
    expect(html).toContain('DM stat / p vs persistence');
    expect(html).toContain('DM stat / p vs best baseline');
    expect(html).toContain('climatology (P(up) = training up share)');
    // the gap is counted as missing in each horizon's header
    expect(html).toContain('399 forecasts with a known outcome, 1 missing');
    expect(count(html, '<svg')).toBe(count(html, '</svg>'));
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    // a fan polygon per band (90, 80, 50 %) and the baseline's dashed outline
    expect(html).toMatch(/<polygon fill="#d62728" fill-opacity="0.15"/);
    expect(html).toMatch(/stroke="#1f77b4" stroke-dasharray="4 3"/);
  });

  it('a report without distributional scores still renders (older results)', () => {
    const html = renderReport(build((a) => a.map(() => 0)));
    expect(html).not.toContain('Distributional forecasts');
    expect(html).toContain('Point forecasts (secondary)');
  });
});
