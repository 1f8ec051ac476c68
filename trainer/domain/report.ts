// EvaluationResult (the JSON output of an evaluation) and its self-contained HTML report. Pure:
// the page has no external scripts, styles or fonts; every chart is inline SVG drawn here; every
// piece of text is HTML-escaped; missing or non-finite numbers print as "n/a".
import type { DieboldMarianoResult, ModelMetrics, TradingSummary } from './metrics.js';
import { buyAndHold, drawdownCurve, rollingDirectionalAccuracy, rollingWindowFor, simulateTrading } from './metrics.js';
import { describeCosts, type CostModel } from './costs.js';
import {
  escapeHtml,
  fanChart,
  fixed,
  fmt,
  histogramChart,
  iso,
  isNum,
  lineChart,
  metricsTable,
  NA,
  pct,
  pval,
  reliabilityChart,
  reportCss,
  scatterChart,
  type Line,
} from './html.js';
import { intervalOf } from '../../core/forecast/scoring.js';
import { INTERVAL_LEVELS } from '../../core/forecast/distribution.js';
import { LOSS_NAMES, type DmResult, type ForecasterScores, type HorizonScores, type LossName, type ScoredItem } from '../../core/forecast/evaluate.js';

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
  /** the cost model of every strategy figure (trainer/domain/costs.ts) */
  costs: CostModel;
  /** the trading rule; costBpsPerSide = costs.feeBps + costs.slippageBps, charged per side per unit of position change */
  trading: { costBpsPerSide: number; threshold: number; mode: 'long-flat' | 'long-short'; periodsPerYear: number };
  /** free-form run configuration (walk-forward spans, T, epochs, seeds...) */
  config: Record<string, JsonValue>;
  folds: FoldEvaluation[];
  /** metrics over all folds' test windows concatenated */
  overall: { n: number; models: ModelMetrics[]; buyAndHold: TradingSummary };
  series?: EvaluationSeries;
  /** the distributional forecasts of the model and every baseline, scored per horizon with proper scoring rules */
  distributional?: DistributionalEvaluation;
  /** extra sentences the caller wants shown under the verdict */
  notes?: string[];
}

/** A stretch of the test range for a fan chart: realised h-step log returns, the model's central intervals and one baseline's 80 % interval. */
export interface FanData {
  h: number;
  times: number[];
  /** realised h-step log return, null when missing (a gap) */
  y: (number | null)[];
  model: { level: number; lo: number[]; hi: number[] }[];
  baseline: { name: string; level: number; lo: number[]; hi: number[] };
}

export interface DistributionalEvaluation {
  /** the model's name in every `forecasters` list */
  model: string;
  horizons: number[];
  scores: HorizonScores[];
  fans: FanData[];
}

/** The fan chart's data from aligned forecasts of the model and of one baseline (same times). */
export function fanOf(h: number, model: readonly ScoredItem[], baselineName: string, baseline: readonly ScoredItem[]): FanData {
  const band = (xs: readonly ScoredItem[], level: number): { level: number; lo: number[]; hi: number[] } => {
    const iv = xs.map((x) => intervalOf(x.d.quantiles, level));
    return { level, lo: iv.map((v) => v.lo), hi: iv.map((v) => v.hi) };
  };
  return {
    h,
    times: model.map((x) => x.time),
    y: model.map((x) => x.y),
    model: INTERVAL_LEVELS.map((level) => band(model, level)),
    baseline: { name: baselineName, ...band(baseline, 0.8) },
  };
}

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
    `A ${result.trading.mode} rule on its forecasts, after ${describeCosts(result.costs)}, returned ${pct(t.totalReturn)} (Sharpe ${fixed(t.sharpe, 2)}, max drawdown ${pct(t.maxDrawdown)}, ${t.trades} trades) against ${pct(bh.totalReturn)} for buy-and-hold (Sharpe ${fixed(bh.sharpe, 2)}, max drawdown ${pct(bh.maxDrawdown)}).`,
  );
  const others = result.overall.models.filter((x) => x.name !== name && x.name !== 'persistence' && isNum(x.regression.mse));
  const better = others.filter((x) => isNum(mse) && (x.regression.mse ?? Infinity) <= mse);
  if (better.length > 0) parts.push(`Simpler baselines with an MSE as low or lower: ${better.map((x) => x.name).join(', ')}.`);
  return { beatsPersistence: beats, text: parts.join(' ') };
}

// ---------------------------------------------------------------------------------------------
// Goals of the distributional forecast (issue 13), each beside its baseline
// ---------------------------------------------------------------------------------------------

export interface Goal {
  id: 'scale' | 'coverage' | 'direction';
  /** true / false: met or not; null: a figure to report, not a pass/fail goal (direction) */
  met: boolean | null;
  text: string;
}

function scoresOf(hs: HorizonScores, name: string): ForecasterScores | undefined {
  return hs.forecasters.find((f) => f.name === name);
}

const better = (dm: DmResult | undefined, p: number): boolean => dm !== undefined && dm.meanDiff < 0 && dm.pValue < p;

function dmWords(dm: DmResult | undefined): string {
  return dm ? `DM ${fixed(dm.stat, 2)}, p = ${pval(dm.pValue)}` : 'DM n/a';
}

/**
 * The three goals, on the first horizon (1 h on hourly data): (a) the scale beats constant-scale
 * persistence on QLIKE with DM p < 0.001 (and, the further goal, HAR-RV and GARCH at 5 %); (b) the
 * 80 and 90 % intervals cover within 2 percentage points of nominal with Kupiec not rejected at 5 %;
 * (c) the Brier score of P(up) against climatology with its DM p-value, no pass or fail.
 */
export function goalsOf(d: DistributionalEvaluation): Goal[] {
  const hs = d.scores[0];
  const m = hs ? scoresOf(hs, d.model) : undefined;
  if (!hs || !m) return [{ id: 'scale', met: null, text: 'No distributional scores were recorded, so no goal can be judged.' }];
  const pers = scoresOf(hs, 'persistence');
  const dmP = m.dm.persistence?.qlike;
  const beatsP = better(dmP, 0.001);
  const vs = ['har-rv', 'garch'].map((b) => {
    const x = m.dm[b]?.qlike;
    const verdict = better(x, 0.05) ? 'better' : x && x.meanDiff > 0 && x.pValue < 0.05 ? 'worse' : 'not distinguishable';
    return `${b} ${fmt(scoresOf(hs, b)?.summary.qlike)} (${verdict}: ${dmWords(x)})`;
  });
  const scale: Goal = {
    id: 'scale',
    met: beatsP,
    text:
      `Scale at ${hs.h} step(s), QLIKE (lower is better): model ${fmt(m.summary.qlike)} vs constant-scale persistence ${fmt(pers?.summary.qlike)} ` +
      `(${dmWords(dmP)}; goal p < 0.001 with the model better: ${beatsP ? 'MET' : 'NOT MET'}). Against the stronger baselines: ${vs.join('; ')}.`,
  };
  const cov = [0.8, 0.9].map((level) => m.coverage.find((c) => Math.abs(c.level - level) < 1e-9));
  const covOk = cov.every((c) => c !== undefined && Math.abs(c.coverage - c.level) <= 0.02 && c.kupiecP >= 0.05);
  const best = hs.bestBaseline.pinball;
  const bestCov = best ? scoresOf(hs, best)?.coverage : undefined;
  const coverage: Goal = {
    id: 'coverage',
    met: covOk,
    text:
      `Intervals at ${hs.h} step(s): ` +
      cov
        .map((c, i) => {
          const b = bestCov?.find((x) => c && Math.abs(x.level - c.level) < 1e-9);
          return c
            ? `${pct(c.level, 0)} interval covers ${pct(c.coverage, 1)} (Kupiec p = ${pval(c.kupiecP)}; ${best ?? 'best baseline'} ${pct(b?.coverage, 1)}, Kupiec p = ${pval(b?.kupiecP)})`
            : `${[80, 90][i]} % interval n/a`;
        })
        .join('; ') +
      `. Goal within 2 points of nominal and Kupiec not rejected at 5 %: ${covOk ? 'MET' : 'NOT MET'}.`,
  };
  const dmC = m.dmBrierVsClimatology ?? undefined;
  const dirWord = better(dmC, 0.05)
    ? 'better than climatology'
    : dmC && dmC.meanDiff > 0 && dmC.pValue < 0.05
      ? 'worse than climatology'
      : 'not distinguishable from climatology';
  const direction: Goal = {
    id: 'direction',
    met: null,
    text: `Direction at ${hs.h} step(s): Brier score of P(up) ${fmt(m.summary.brier, 5)} vs climatology (the training range's up share, ${pct(hs.climatology.meanProbUp, 1)}) ${fmt(hs.climatology.brier, 5)}: ${dirWord} (${dmWords(dmC)}). Nothing more is claimed about direction.`,
  };
  return [scale, coverage, direction];
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
  const opts = { feeBps: r.trading.costBpsPerSide, threshold: r.trading.threshold, mode: r.trading.mode, periodsPerYear: r.trading.periodsPerYear };
  const runs = order.map((name, i) => ({ name, color: COLORS[i % COLORS.length]!, run: simulateTrading(s.forecasts[name]!, s.actual, opts) }));
  const bhRun = buyAndHold(s.actual, { feeBps: r.trading.costBpsPerSide, periodsPerYear: r.trading.periodsPerYear });
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
// Distributional sections
// ---------------------------------------------------------------------------------------------

const LOSS_LABEL: Record<LossName, string> = { pinball: 'pinball', qlike: 'QLIKE', mseAbs: 'MSE |r| vs scale', brier: 'Brier' };

function dmCell(dm: DmResult | undefined): string {
  return dm ? `${fixed(dm.stat, 2)} / ${pval(dm.pValue)}` : NA;
}

/** Every forecaster's proper scores and DM (stat / p) against persistence and the best baseline per loss. */
export function scoresTable(hs: HorizonScores, model: string): string {
  const head =
    `<tr><th rowspan="2">forecaster</th><th rowspan="2">n</th><th rowspan="2">missing</th><th rowspan="2">pinball</th><th rowspan="2">QLIKE</th><th rowspan="2">MSE |r| vs scale</th><th rowspan="2">Brier</th><th rowspan="2">log loss</th>` +
    `<th colspan="${LOSS_NAMES.length}">DM stat / p vs persistence</th><th colspan="${LOSS_NAMES.length}">DM stat / p vs best baseline</th><th rowspan="2">Brier DM vs climatology</th></tr>` +
    `<tr>${LOSS_NAMES.map((l) => `<th>${escapeHtml(LOSS_LABEL[l])}</th>`).join('')}${LOSS_NAMES.map((l) => `<th>${escapeHtml(LOSS_LABEL[l])} (${escapeHtml(hs.bestBaseline[l] ?? NA)})</th>`).join('')}</tr>`;
  const rows = hs.forecasters.map((f) => {
    const s = f.summary;
    const vsP = LOSS_NAMES.map((l) => `<td>${dmCell(f.dm.persistence?.[l])}</td>`).join('');
    const vsB = LOSS_NAMES.map((l) => `<td>${dmCell(f.dm[hs.bestBaseline[l] ?? '']?.[l])}</td>`).join('');
    return `<tr${f.name === model ? ' class="model"' : ''}><td>${escapeHtml(f.name)}</td><td>${s.n}</td><td>${s.missing}</td><td>${fmt(s.pinball)}</td><td>${fmt(s.qlike)}</td><td>${fmt(s.mse)}</td><td>${fmt(s.brier, 5)}</td><td>${fmt(s.logLoss, 5)}</td>${vsP}${vsB}<td>${dmCell(f.dmBrierVsClimatology ?? undefined)}</td></tr>`;
  });
  rows.push(
    `<tr class="bh"><td>climatology (P(up) = training up share)</td><td>${hs.n}</td><td>${hs.missing}</td><td>${NA}</td><td>${NA}</td><td>${NA}</td><td>${fmt(hs.climatology.brier, 5)}</td><td>${fmt(hs.climatology.logLoss, 5)}</td>${`<td>${NA}</td>`.repeat(2 * LOSS_NAMES.length + 1)}</tr>`,
  );
  return `<table class="scores">${head}${rows.join('')}</table>`;
}

/** Coverage and mean width of the central intervals, with Kupiec's and Christoffersen's p-values. */
export function coverageTable(hs: HorizonScores, model: string): string {
  const levels = INTERVAL_LEVELS;
  const head =
    `<tr><th rowspan="2">forecaster</th>${levels.map((l) => `<th colspan="4">${pct(l, 0)} interval</th>`).join('')}</tr>` +
    `<tr>${levels.map(() => '<th>coverage</th><th>mean width</th><th>Kupiec p</th><th>Christoffersen cc p</th>').join('')}</tr>`;
  const rows = hs.forecasters.map((f) => {
    const cells = levels.map((level) => {
      const c = f.coverage.find((x) => Math.abs(x.level - level) < 1e-9);
      return c
        ? `<td>${pct(c.coverage, 1)}</td><td>${fmt(c.meanWidth)}</td><td>${pval(c.kupiecP)}</td><td>${pval(c.christoffersenCcP)}</td>`
        : `<td>${NA}</td>`.repeat(4);
    });
    return `<tr${f.name === model ? ' class="model"' : ''}><td>${escapeHtml(f.name)}</td>${cells.join('')}</tr>`;
  });
  return `<table class="coverage">${head}${rows.join('')}</table>`;
}

function fanSection(fan: FanData | undefined, model: string): string {
  if (!fan || fan.times.length < 2) return '<p>No fan chart: too few forecasts.</p>';
  const [c50, c80, c90] = [0.5, 0.8, 0.9].map((l) => fan.model.find((b) => Math.abs(b.level - l) < 1e-9));
  const bands = [
    c90 && { name: `${model} 90 %`, lo: c90.lo, hi: c90.hi, color: '#d62728', opacity: 0.15 },
    c80 && { name: `${model} 80 %`, lo: c80.lo, hi: c80.hi, color: '#d62728', opacity: 0.2 },
    c50 && { name: `${model} 50 %`, lo: c50.lo, hi: c50.hi, color: '#d62728', opacity: 0.3 },
    { name: `${fan.baseline.name} ${pct(fan.baseline.level, 0)}`, lo: fan.baseline.lo, hi: fan.baseline.hi, color: '#1f77b4', opacity: 1, outline: true },
  ].filter((b) => b !== undefined);
  return fanChart(
    `Fan chart, ${fan.h}-step log return: the last ${fan.times.length} forecasts of the test range`,
    iso(fan.times[0]),
    iso(fan.times.at(-1)),
    fan.y,
    bands,
    (v) => fmt(v, 3),
  );
}

/** Per horizon: the scores table, the coverage table, the fan chart, the reliability diagram and the PIT histograms. */
export function distributionalSection(d: DistributionalEvaluation): string {
  const goals = goalsOf(d)
    .map((g) => `<li class="goal ${g.met === null ? 'info' : g.met ? 'yes' : 'no'}">${escapeHtml(g.text)}</li>`)
    .join('');
  const parts = d.scores.map((hs, k) => {
    const model = scoresOf(hs, d.model);
    const bestPin = hs.bestBaseline.pinball;
    const bestBrier = hs.bestBaseline.brier;
    const rel = [model, bestBrier && bestBrier !== d.model ? scoresOf(hs, bestBrier) : undefined]
      .filter((f) => f !== undefined)
      .map((f, i) => ({ name: f.name, color: i === 0 ? '#d62728' : '#1f77b4', points: f.reliability }));
    const pits = [model, bestPin ? scoresOf(hs, bestPin) : undefined].filter((f) => f !== undefined);
    return `<section class="horizon" id="h${hs.h}"><h3>Horizon ${hs.h} step(s): ${hs.n} forecasts with a known outcome, ${hs.missing} missing (a gap or past the data)</h3>
<h4>Scores</h4>${scoresTable(hs, d.model)}
<h4>Coverage</h4>${coverageTable(hs, d.model)}
<div class="fan">${fanSection(d.fans[k], d.model)}</div>
<div class="reliability">${reliabilityChart(`Reliability of P(up), ${hs.h} step(s): mean forecast (x) vs observed up share (y), ten equal-count bins`, rel)}</div>
<div class="pit">${pits.map((f) => histogramChart(`PIT histogram, ${hs.h} step(s): ${f.name} (flat at the dashed line if calibrated)`, f.pit, f.name === d.model ? '#d62728' : '#1f77b4')).join('')}</div>
</section>`;
  });
  return `<h2>Distributional forecasts (proper scoring rules)</h2>
<h3>Goals</h3><ul class="goals">${goals}</ul>
<p>Every forecaster gives a distribution of the h-step log return per forecast time. Pinball: mean over the quantile grid of the quantile loss. QLIKE: ln(scale&sup2;) + r&sup2;/scale&sup2;. MSE |r| vs scale: (|r| &minus; scale)&sup2;. Brier and log loss: of P(up) against the realised direction; climatology forecasts the training range's up share. Diebold-Mariano with the Harvey-Leybourne-Newbold correction and h&minus;1 Newey-West lags (h-step outcomes overlap); a negative stat means the row's forecaster has the lower loss. A missing outcome (a gap) is counted in "missing", never scored as zero. Kupiec: unconditional coverage over all known outcomes; Christoffersen: conditional coverage, for h &gt; 1 on every h-th outcome (non-overlapping).</p>
${parts.join('\n')}`;
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

const CSS = reportCss(
  '.verdict{padding:1em;border-left:5px solid #888;background:#f6f6f6}.verdict.yes{border-color:#2ca02c}.verdict.no{border-color:#d62728}' +
    '.goal.yes{color:#1a7a1a}.goal.no{color:#b22}.goal{margin:.4em 0}',
);

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
${result.distributional ? distributionalSection(result.distributional) : ''}
<h2>Point forecasts (secondary): verdict</h2>
<div class="verdict ${v.beatsPersistence ? 'yes' : 'no'}"><p>${escapeHtml(v.text)}</p>${notes}</div>
<p>Rule: the model beats persistence only if the Diebold-Mariano test (squared-error loss, h = 1, Harvey-Leybourne-Newbold correction, Student t with n&minus;1 df) gives p &lt; 0.05 AND its MSE is lower. Directional accuracy counts a forecast or return of exactly 0 as &ldquo;not up&rdquo;. Trading: ${escapeHtml(result.trading.mode)}, long when the forecast &gt; ${escapeHtml(fmt(result.trading.threshold))}, costs ${escapeHtml(describeCosts(result.costs))}, Sharpe annualised with ${escapeHtml(fmt(result.trading.periodsPerYear))} periods per year.</p>
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
