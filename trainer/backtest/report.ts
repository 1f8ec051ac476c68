// The backtest's self-contained HTML report (pure): no external scripts, styles or fonts; every
// chart is inline SVG drawn here in the style of the evaluation report (trainer/domain/report.ts);
// every piece of text is HTML-escaped; missing or non-finite numbers print as "n/a". It reads only
// the BacktestResult, so a report can be re-rendered from a saved JSON file.
import { escapeHtml, fixed, fmt, iso, lineChart, metricsTable as table, NA, pct, reportCss, scatterChart, type Line } from '../domain/html.js';
import type { BacktestResult } from './engine.js';
import { describeCosts } from '../domain/costs.js';

/** Points per line chart (the evaluation report draws 1,200; a backtest's series is one long run). */
const MAX_POINTS = 1500;

/** The model as a title names it: the baseline by its name (its "1" is the code's version, not a trained one), a trained model with its version. */
function modelTitle(r: BacktestResult): string {
  return r.model.choice === 'baseline' ? r.model.name : `${r.model.name} ${r.model.version}`;
}

function charts(r: BacktestResult): string {
  const s = r.series;
  if (s.time.length < 2) return '<p>Fewer than two bars were traded, so there are no charts.</p>';
  const xLo = iso(s.time[0]);
  const xHi = iso(s.time[s.time.length - 1]);
  const name = `${r.model.name} (${r.trading.mode})`;
  const realisedVsPred: Line[] = [
    { name: 'realised log return', color: '#999', ys: s.actual },
    { name: `predicted: ${r.model.name}`, color: '#d62728', ys: s.pred },
  ];
  return [
    lineChart(
      'Equity after fees and slippage (start = 1)',
      xLo,
      xHi,
      [
        { name, color: '#d62728', ys: s.equity },
        { name: 'buy-and-hold', color: '#000', ys: s.buyHoldEquity },
      ],
      (v) => fmt(v, 4),
      MAX_POINTS,
    ),
    lineChart('Drawdown from peak equity', xLo, xHi, [{ name, color: '#d62728', ys: s.drawdown.map((v) => -v) }], (v) => pct(v, 1), MAX_POINTS),
    lineChart('Predicted and realised next-period log returns', xLo, xHi, realisedVsPred, (v) => fmt(v, 3), MAX_POINTS),
    scatterChart(`Predicted (x) vs realised (y) log return: ${r.model.name}`, s.pred, s.actual),
    lineChart(
      `Rolling directional accuracy (${typeof r.config.rollingWindow === 'number' ? r.config.rollingWindow : NA} bars)`,
      xLo,
      xHi,
      [
        { name: r.model.name, color: '#d62728', ys: s.rollingDirectionalAccuracy },
        { name: '50%', color: '#999', ys: s.time.map(() => 0.5) },
      ],
      (v) => pct(v, 0),
      MAX_POINTS,
    ),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

function metricsTable(r: BacktestResult): string {
  return table(
    [
      { label: `${r.model.name} (model)`, metrics: r.metrics.model, highlight: true },
      { label: 'persistence', metrics: r.metrics.persistence, highlight: false },
      { label: 'ema-drift', metrics: r.metrics.emaDrift, highlight: false },
    ],
    r.metrics.buyAndHold,
  );
}

function kvTable(obj: Record<string, unknown>): string {
  const rows = Object.entries(obj).map(([k, v]) => {
    const text = typeof v === 'number' ? fmt(v, 6) : typeof v === 'string' ? v : v === undefined || v === null ? NA : JSON.stringify(v);
    return `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(text)}</td></tr>`;
  });
  return `<table class="kv">${rows.join('')}</table>`;
}

function gapsSection(r: BacktestResult): string {
  const g = r.data.gaps;
  const skipped = `${r.data.skippedBars} bar(s) of the range were not traded (warm-up, a window or target spanning a gap, or no next candle).`;
  if (g.length === 0) return `<p>No gaps in the candles from ${escapeHtml(r.data.warmupFrom)} to ${escapeHtml(r.range.to)}. ${escapeHtml(skipped)}</p>`;
  const rows = g.map((x) => `<tr><td>${escapeHtml(x.from)}</td><td>${escapeHtml(x.to)}</td><td>${x.missingBars}</td></tr>`).join('');
  return `<p>${g.length} gap(s) in the candles: no window and no trade spans one. ${escapeHtml(skipped)}</p><table><tr><th>first missing bar opens</th><th>next candle opens</th><th>missing bars</th></tr>${rows}</table>`;
}

function retrainsSection(r: BacktestResult): string {
  if (!r.retrains) return '';
  const rows = r.retrains
    .map(
      (x) =>
        `<tr><td>${x.index + 1}</td><td>${escapeHtml(x.at)}</td><td>${escapeHtml(x.trainFrom)} &rarr; ${escapeHtml(x.trainTo)}</td><td>${x.nTrain}</td><td>${escapeHtml(x.valFrom)} &rarr; ${escapeHtml(x.valTo)}</td><td>${x.nVal}</td><td>${escapeHtml(x.lastTargetTime ?? NA)}</td><td>${x.seed}</td><td>${x.epochsRun}</td><td>${x.bars}</td></tr>`,
    )
    .join('');
  return `<h2>Walk-forward retrains</h2><p>Each retrain fits only on windows whose targets close at or before its retrain point; its model predicts until the next retrain.</p><table><tr><th>#</th><th>at</th><th>train</th><th>n</th><th>validation</th><th>n</th><th>last target</th><th>seed</th><th>epochs</th><th>bars predicted</th></tr>${rows}</table>`;
}

const CSS = reportCss('.summary{padding:1em;border-left:5px solid #888;background:#f6f6f6}');

/** A self-contained HTML page for a BacktestResult. */
export function renderBacktestReport(r: BacktestResult): string {
  const title = `BitPredict backtest: ${modelTitle(r)} on ${r.range.symbol} ${r.range.interval}, ${r.range.from} to ${r.range.to}`;
  const t = r.trading;
  const m = r.metrics.model;
  const bh = r.metrics.buyAndHold;
  const summary = `Over ${r.data.bars} traded bars, a ${t.mode} rule on the forecasts of ${modelTitle(r)} returned ${pct(t.summary.totalReturn)} after ${describeCosts(r.costs)} (Sharpe ${fixed(t.summary.sharpe, 2)}, max drawdown ${pct(t.summary.maxDrawdown)}, ${t.summary.trades} trades), against ${pct(bh.totalReturn)} for buy-and-hold. Its direction was right ${pct(m.direction.accuracy, 1)} of the time; persistence (no change) has RMSE ${fmt(r.metrics.persistence.regression.rmse)} against the model's ${fmt(m.regression.rmse)}.`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="summary"><p>${escapeHtml(summary)}</p></div>
<p>Rule: at each bar close t, hold the position over the next bar: long when the forecast &gt; ${escapeHtml(fmt(t.threshold))}${t.mode === 'long-short' ? `, short when it is &lt; &minus;${escapeHtml(fmt(t.threshold))}` : ', else flat'}. Every unit of position change costs the fee plus the slippage (${escapeHtml(fmt(t.costBpsPerSide))} bps per side); costs paid: fees ${escapeHtml(fmt(t.feeCostLog))}, slippage ${escapeHtml(fmt(t.slippageCostLog))} (log-return units). Sharpe annualised with ${escapeHtml(fmt(t.periodsPerYear))} periods per year. The baselines are scored with the same rule and costs.</p>
<h2>Metrics</h2>
${metricsTable(r)}
<h2>Charts</h2>
${charts(r)}
<h2>Data</h2>
${kvTable({
  symbol: r.range.symbol,
  interval: r.range.interval,
  'range from': r.range.from,
  'range to (exclusive)': r.range.to,
  'warm-up from': r.data.warmupFrom,
  source: r.data.source,
  candles: r.data.candles,
  texts: r.data.texts,
  'bars traded': r.data.bars,
  'bars not traded': r.data.skippedBars,
})}
<h3>Provenance</h3>
${r.data.provenance.length > 0 ? `<ul>${r.data.provenance.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>` : '<p>n/a</p>'}
<h3>Gaps</h3>
${gapsSection(r)}
<h2>Model</h2>
${kvTable({
  choice: r.model.choice,
  label: r.model.label,
  name: r.model.name,
  version: r.model.version,
  'feature set': r.model.featureSetVersion,
  T: r.model.T,
  'trained from': r.model.trainedFrom,
  'trained to': r.model.trainedTo,
})}
${retrainsSection(r)}
<h2>Configuration</h2>
${kvTable(r.config)}
</body></html>
`;
}
