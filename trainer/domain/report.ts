// EvaluationResult (the JSON output of an evaluation) and its self-contained HTML report. Pure:
// the page has no external scripts, styles or fonts; every chart is inline SVG drawn here; every
// piece of text is HTML-escaped; missing or non-finite numbers print as "n/a".
import type { DieboldMarianoResult, ModelMetrics, TradingSummary } from './metrics.js';
import { buyAndHold, drawdownCurve, rollingDirectionalAccuracy, rollingWindowFor, simulateTrading } from './metrics.js';
import { escapeHtml, fixed, fmt, iso, isNum, lineChart, metricsTable, NA, pct, pval, reportCss, scatterChart, type Line } from './html.js';

export { escapeHtml, fmt } from './html.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/** One fold's out-of-sample results. Times are ISO-8601 strings (half-open [from, to)). */
export interface FoldEvaluation {
  index: number;
  trainFrom: string;
  trainTo: string;
  valFrom: string;
  valTo: string;
  testFrom: string;
  testTo: string;
  nTrain: number;
  nVal: number;
  nTest: number;
  /** the model first, then the baselines (persistence, ema-drift, linear, logistic...) */
  models: ModelMetrics[];
  buyAndHold: TradingSummary;
}

/**
 * Out-of-sample series concatenated over folds (for charts). actual[i] is the realised log return
 * of window time eventTimes[i]; forecasts[name][i] the forecast of model `name`.
 */
export interface EvaluationSeries {
  eventTimes: number[];
  actual: number[];
  forecasts: Record<string, number[]>;
}

export interface EvaluationResult {
  schemaVersion: 1;
  /** ISO time the evaluation finished (passed in by the caller) */
  generatedAt: string;
  purpose: 'development' | 'final';
  model: {
    /** name of the model's entry in each `models` list */
    name: string;
    version: string;
    backend: string;
    featureSetVersion: string;
    codeVersion?: string;
  };
  data: {
    symbol: string;
    interval: string;
    /** ISO, first and (exclusive) last window time of the evaluated test ranges */
    from: string;
    to: string;
    nWindows: number;
    source?: string;
  };
  trading: { feeBps: number; threshold: number; mode: 'long-flat' | 'long-short'; periodsPerYear: number };
  /** free-form run configuration (walk-forward spans, T, epochs, seeds...) */
  config: Record<string, JsonValue>;
  folds: FoldEvaluation[];
  /** metrics over all folds' test windows concatenated */
  overall: { n: number; models: ModelMetrics[]; buyAndHold: TradingSummary };
  series?: EvaluationSeries;
  /** extra sentences the caller wants shown under the verdict */
  notes?: string[];
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Verdict
// ---------------------------------------------------------------------------------------------

export interface Verdict {
  beatsPersistence: boolean;
  text: string;
}

function byName(models: ModelMetrics[], name: string): ModelMetrics | undefined {
  return models.find((m) => m.name === name);
}

/** The model beats persistence iff DM p < 0.05 AND its MSE is lower than persistence's. */
export function verdictOf(result: EvaluationResult): Verdict {
  const m = byName(result.overall.models, result.model.name);
  const name = result.model.name;
  if (!m) return { beatsPersistence: false, text: `No overall metrics were found for the model "${name}", so nothing can be claimed about it.` };
  const persistenceMse = byName(result.overall.models, 'persistence')?.regression.mse ?? null;
  const dm: DieboldMarianoResult = m.dmVsPersistence;
  const mse = m.regression.mse;
  // Persistence forecasts 0, so its MSE is mean(actual^2); use the recorded value if present.
  const lower = isNum(mse) && isNum(persistenceMse) ? mse < persistenceMse : isNum(dm.meanLossDiff) && dm.meanLossDiff < 0;
  const significant = isNum(dm.pValue) && dm.pValue < 0.05;
  const beats = lower && significant;
  const window = `${result.data.symbol} ${result.data.interval} windows from ${result.data.from} to ${result.data.to} (${result.overall.n} out-of-sample forecasts, ${result.purpose} evaluation)`;
  const parts: string[] = [];
  if (beats) {
    parts.push(
      `On ${window}, the model "${name}" beats the naive "no change" (persistence) forecast: its mean squared error is lower (${fmt(mse)} vs ${fmt(persistenceMse)}) and the Diebold-Mariano test finds the difference significant (HLN statistic ${fmt(dm.stat, 3)}, p = ${pval(dm.pValue)} < 0.05).`,
    );
  } else {
    const why = !lower
      ? `its mean squared error is not lower than persistence's (${fmt(mse)} vs ${fmt(persistenceMse)})${significant ? `, and the Diebold-Mariano test says it is significantly WORSE (HLN statistic ${fmt(dm.stat, 3)}, p = ${pval(dm.pValue)})` : ''}`
      : `its mean squared error is lower (${fmt(mse)} vs ${fmt(persistenceMse)}) but the Diebold-Mariano test does not find the difference significant (HLN statistic ${fmt(dm.stat, 3)}, p = ${pval(dm.pValue)}; 0.05 needed)`;
    parts.push(
      `On ${window}, the model "${name}" does NOT beat the naive "no change" (persistence) forecast: ${why}. Treat its return forecasts as no better than assuming the price stays where it is.`,
    );
  }
  const da = m.direction;
  if (isNum(da.accuracy)) {
    const ci = da.ci95;
    const covers = ci !== null && ci.low <= 0.5 && ci.high >= 0.5;
    const pers = byName(result.overall.models, 'persistence');
    // persistence (forecast 0 = "not up") is right exactly on the non-up periods
    const upRate = pers && isNum(pers.direction.accuracy) ? 1 - pers.direction.accuracy : null;
    const base = isNum(upRate) ? `; always guessing the more common direction would be right ${pct(Math.max(upRate, 1 - upRate), 1)}` : '';
    parts.push(
      `Its direction is right ${pct(da.accuracy, 1)} of the time (95% CI ${ci ? `${pct(ci.low, 1)} to ${pct(ci.high, 1)}` : NA}${covers ? ', not distinguishable from a coin flip' : ''}${base}).`,
    );
  }
  const t = m.trading;
  const bh = result.overall.buyAndHold;
  parts.push(
    `A ${result.trading.mode} rule on its forecasts, after ${fmt(result.trading.feeBps)} bps per side, returned ${pct(t.totalReturn)} (Sharpe ${fixed(t.sharpe, 2)}, max drawdown ${pct(t.maxDrawdown)}, ${t.trades} trades) against ${pct(bh.totalReturn)} for buy-and-hold (Sharpe ${fixed(bh.sharpe, 2)}, max drawdown ${pct(bh.maxDrawdown)}).`,
  );
  const others = result.overall.models.filter((x) => x.name !== name && x.name !== 'persistence' && isNum(x.regression.mse));
  const better = others.filter((x) => isNum(mse) && (x.regression.mse ?? Infinity) <= mse);
  if (better.length > 0) parts.push(`Simpler baselines with an MSE as low or lower: ${better.map((x) => x.name).join(', ')}.`);
  return { beatsPersistence: beats, text: parts.join(' ') };
}

// ---------------------------------------------------------------------------------------------
// SVG charts
// ---------------------------------------------------------------------------------------------

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];

function cumsum(a: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  let c = 0;
  for (let i = 0; i < a.length; i++) {
    c += a[i]!;
    out[i] = c;
  }
  return out;
}

function charts(r: EvaluationResult): string {
  const s = r.series;
  if (!s || s.actual.length < 2) return '<p>No out-of-sample series was recorded, so there are no charts.</p>';
  const names = Object.keys(s.forecasts);
  const order = [r.model.name, ...names.filter((n) => n !== r.model.name)].filter((n) => s.forecasts[n] !== undefined);
  const opts = { feeBps: r.trading.feeBps, threshold: r.trading.threshold, mode: r.trading.mode, periodsPerYear: r.trading.periodsPerYear };
  const runs = order.map((name, i) => ({ name, color: COLORS[i % COLORS.length]!, run: simulateTrading(s.forecasts[name]!, s.actual, opts) }));
  const bhRun = buyAndHold(s.actual, { feeBps: r.trading.feeBps, periodsPerYear: r.trading.periodsPerYear });
  const xLo = iso(s.eventTimes[0]);
  const xHi = iso(s.eventTimes[s.eventTimes.length - 1]);
  const equityLines: Line[] = [
    ...runs.map((x) => ({ name: `${x.name} (${r.trading.mode})`, color: x.color, ys: cumsum(x.run.logReturns) })),
    { name: 'buy-and-hold', color: '#000', ys: cumsum(bhRun.logReturns) },
  ];
  const ddLines: Line[] = [
    ...runs.map((x) => ({ name: x.name, color: x.color, ys: Array.from(drawdownCurve(x.run.logReturns), (v) => -v) })),
    { name: 'buy-and-hold', color: '#000', ys: Array.from(drawdownCurve(bhRun.logReturns), (v) => -v) },
  ];
  const win = rollingWindowFor(s.actual.length);
  const modelPred = s.forecasts[r.model.name];
  const daLines: Line[] = runs
    .filter((x) => x.name !== 'persistence')
    .map((x) => ({ name: x.name, color: x.color, ys: rollingDirectionalAccuracy(s.forecasts[x.name]!, s.actual, win) }));
  daLines.push({ name: '50%', color: '#999', ys: new Float64Array(s.actual.length).fill(0.5) });
  return [
    lineChart('Equity: cumulative log return after fees', xLo, xHi, equityLines, (v) => fmt(v, 3)),
    lineChart('Drawdown from peak equity', xLo, xHi, ddLines, (v) => pct(v, 1)),
    lineChart(`Rolling directional accuracy (${win} forecasts)`, xLo, xHi, daLines, (v) => pct(v, 0)),
    modelPred ? scatterChart(`Predicted (x) vs realised (y) log return: ${r.model.name}`, modelPred, s.actual) : '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

function modelsTable(models: ModelMetrics[], bh: TradingSummary, highlight: string): string {
  return metricsTable(
    models.map((m) => ({ label: m.name, metrics: m, highlight: m.name === highlight })),
    bh,
  );
}

function kvTable(obj: Record<string, unknown>): string {
  const rows = Object.entries(obj).map(([k, v]) => {
    const text =
      typeof v === 'number'
        ? fmt(v, 6)
        : typeof v === 'string'
          ? v
          : v === undefined
            ? NA
            : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x));
    return `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(text ?? NA)}</td></tr>`;
  });
  return `<table class="kv">${rows.join('')}</table>`;
}

// ---------------------------------------------------------------------------------------------
// Page
// ---------------------------------------------------------------------------------------------

const CSS = reportCss('.verdict{padding:1em;border-left:5px solid #888;background:#f6f6f6}.verdict.yes{border-color:#2ca02c}.verdict.no{border-color:#d62728}');

/** A self-contained HTML page for an EvaluationResult. */
export function renderReport(result: EvaluationResult): string {
  const v = verdictOf(result);
  const title = `BitPredict evaluation: ${result.model.name} ${result.model.version} on ${result.data.symbol} ${result.data.interval}`;
  const folds = result.folds.map(
    (f) =>
      `<h3>Fold ${f.index}</h3><p>train ${escapeHtml(f.trainFrom)} &rarr; ${escapeHtml(f.trainTo)} (${f.nTrain} windows), validation ${escapeHtml(f.valFrom)} &rarr; ${escapeHtml(f.valTo)} (${f.nVal}), test ${escapeHtml(f.testFrom)} &rarr; ${escapeHtml(f.testTo)} (${f.nTest})</p>${modelsTable(f.models, f.buyAndHold, result.model.name)}`,
  );
  const notes = (result.notes ?? []).map((n) => `<p>${escapeHtml(n)}</p>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<h2>Verdict</h2>
<div class="verdict ${v.beatsPersistence ? 'yes' : 'no'}"><p>${escapeHtml(v.text)}</p>${notes}</div>
<p>Rule: the model beats persistence only if the Diebold-Mariano test (squared-error loss, h = 1, Harvey-Leybourne-Newbold correction, Student t with n&minus;1 df) gives p &lt; 0.05 AND its MSE is lower. Directional accuracy counts a forecast or return of exactly 0 as &ldquo;not up&rdquo;. Trading: ${escapeHtml(result.trading.mode)}, long when the forecast &gt; ${escapeHtml(fmt(result.trading.threshold))}, fee ${escapeHtml(fmt(result.trading.feeBps))} bps per side per position change, Sharpe annualised with ${escapeHtml(fmt(result.trading.periodsPerYear))} periods per year.</p>
<h2>Run</h2>
${kvTable({
  purpose: result.purpose,
  generatedAt: result.generatedAt,
  model: result.model.name,
  'model version': result.model.version,
  backend: result.model.backend,
  'feature set': result.model.featureSetVersion,
  'code version': result.model.codeVersion ?? NA,
  symbol: result.data.symbol,
  interval: result.data.interval,
  'data from': result.data.from,
  'data to': result.data.to,
  'windows evaluated': result.data.nWindows,
  'data source': result.data.source ?? NA,
})}
<h3>Configuration</h3>
${kvTable(result.config)}
<h2>Overall (all folds' test windows)</h2>
${modelsTable(result.overall.models, result.overall.buyAndHold, result.model.name)}
<h2>Charts</h2>
${charts(result)}
<h2>Folds</h2>
${folds.length > 0 ? folds.join('\n') : '<p>No folds.</p>'}
</body></html>
`;
}
