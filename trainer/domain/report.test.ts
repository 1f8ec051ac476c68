import { describe, expect, it } from 'vitest';
import { buyAndHold, evaluateForecast, type ModelMetrics } from './metrics.js';
import { escapeHtml, fmt, renderReport, verdictOf, type EvaluationResult, type FoldEvaluation } from './report.js';

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
    trading: { feeBps: 10, threshold: 0, mode: 'long-flat', periodsPerYear: 8760 },
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
    expect(html).toContain('<h2>Verdict</h2>');
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
