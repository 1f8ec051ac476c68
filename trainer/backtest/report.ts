// The backtest's self-contained HTML report (pure): no external scripts, styles or fonts; every
// chart is inline SVG drawn here in the style of the evaluation report (trainer/domain/report.ts);
// every piece of text is HTML-escaped; missing or non-finite numbers print as "n/a". It reads only
// the BacktestResult, so a report can be re-rendered from a saved JSON file.
import type { ModelMetrics, TradingSummary } from '../domain/metrics.js';
import { escapeHtml, fmt } from '../domain/report.js';
import type { BacktestResult } from './engine.js';

const NA = 'n/a';

function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function fixed(x: number | null | undefined, d: number): string {
  return isNum(x) ? x.toFixed(d) : NA;
}

function pct(x: number | null | undefined, d = 2): string {
  return isNum(x) ? `${(x * 100).toFixed(d)}%` : NA;
}

function pval(p: number | null | undefined): string {
  if (!isNum(p)) return NA;
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

function isoOf(t: number | undefined): string {
  return isNum(t) ? new Date(t).toISOString() : NA;
}

// ---------------------------------------------------------------------------------------------
// SVG charts
// ---------------------------------------------------------------------------------------------

const W = 860;
const H = 300;
const PAD = { l: 64, r: 16, t: 16, b: 36 };

interface Line { name: string; ys: ArrayLike<number | null>; color: string }

function extent(values: Iterable<number | null>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!isNum(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return null;
  if (lo === hi) return [lo - 1e-9 - Math.abs(lo) * 0.01, hi + 1e-9 + Math.abs(hi) * 0.01];
  return [lo, hi];
}

function axes(xLo: string, xHi: string, yLo: number, yHi: number, yFmt: (v: number) => string): string {
  const x0 = PAD.l;
  const x1 = W - PAD.r;
  const y0 = H - PAD.b;
  const y1 = PAD.t;
  let s = `<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#444"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="#444"/>`;
  for (let k = 0; k <= 4; k++) {
    const v = yLo + ((yHi - yLo) * k) / 4;
    const y = y0 - ((y0 - y1) * k) / 4;
    s += `<line x1="${x0}" y1="${y.toFixed(1)}" x2="${x1}" y2="${y.toFixed(1)}" stroke="#eee"/>`;
    s += `<text x="${x0 - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${escapeHtml(yFmt(v))}</text>`;
  }
  s += `<text x="${x0}" y="${H - 10}" font-size="11">${escapeHtml(xLo)}</text>`;
  s += `<text x="${x1}" y="${H - 10}" font-size="11" text-anchor="end">${escapeHtml(xHi)}</text>`;
  return s;
}

function legend(lines: { name: string; color: string }[]): string {
  return `<div class="legend">${lines.map((l) => `<span><i style="background:${escapeHtml(l.color)}"></i>${escapeHtml(l.name)}</span>`).join(' ')}</div>`;
}

function svg(title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${escapeHtml(title)}">${body}</svg>`;
}

/** Lines over the bar index; a null or non-finite point breaks nothing, it is just not drawn. */
function lineChart(title: string, xLo: string, xHi: string, lines: Line[], yFmt: (v: number) => string, maxPoints = 1500): string {
  const n = Math.max(0, ...lines.map((l) => l.ys.length));
  const ext = extent(lines.flatMap((l) => Array.from(l.ys)));
  if (n < 2 || ext === null) return `<h3>${escapeHtml(title)}</h3><p>n/a (not enough data)</p>`;
  const [lo, hi] = ext;
  const sx = (i: number): number => PAD.l + ((W - PAD.l - PAD.r) * i) / (n - 1);
  const sy = (v: number): number => H - PAD.b - ((H - PAD.t - PAD.b) * (v - lo)) / (hi - lo);
  const st = Math.max(1, Math.ceil(n / maxPoints));
  let body = axes(xLo, xHi, lo, hi, yFmt);
  for (const l of lines) {
    const pts: string[] = [];
    for (let i = 0; i < l.ys.length; i++) {
      if (i % st !== 0 && i !== l.ys.length - 1) continue;
      const v = l.ys[i];
      if (isNum(v)) pts.push(`${sx(i).toFixed(1)},${sy(v).toFixed(1)}`);
    }
    if (pts.length > 0) body += `<polyline fill="none" stroke="${escapeHtml(l.color)}" stroke-width="1.3" points="${pts.join(' ')}"/>`;
  }
  return `<h3>${escapeHtml(title)}</h3>${legend(lines)}${svg(title, body)}`;
}

function scatterChart(title: string, xs: ArrayLike<number>, ys: ArrayLike<number>, maxPoints = 3000): string {
  const n = Math.min(xs.length, ys.length);
  const ex = extent(Array.from(xs));
  const ey = extent(Array.from(ys));
  if (n < 1 || ex === null || ey === null) return `<h3>${escapeHtml(title)}</h3><p>n/a (not enough data)</p>`;
  const [xl, xh] = ex;
  const [yl, yh] = ey;
  const sx = (v: number): number => PAD.l + ((W - PAD.l - PAD.r) * (v - xl)) / (xh - xl);
  const sy = (v: number): number => H - PAD.b - ((H - PAD.t - PAD.b) * (v - yl)) / (yh - yl);
  let body = axes(`predicted ${fmt(xl, 3)}`, `predicted ${fmt(xh, 3)}`, yl, yh, (v) => fmt(v, 3));
  if (xl < 0 && xh > 0) body += `<line x1="${sx(0).toFixed(1)}" y1="${PAD.t}" x2="${sx(0).toFixed(1)}" y2="${H - PAD.b}" stroke="#bbb" stroke-dasharray="4 3"/>`;
  if (yl < 0 && yh > 0) body += `<line x1="${PAD.l}" y1="${sy(0).toFixed(1)}" x2="${W - PAD.r}" y2="${sy(0).toFixed(1)}" stroke="#bbb" stroke-dasharray="4 3"/>`;
  const st = Math.max(1, Math.ceil(n / maxPoints));
  for (let i = 0; i < n; i += st) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (isNum(x) && isNum(y)) body += `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="1.6" fill="#1f77b4" fill-opacity="0.5"/>`;
  }
  return `<h3>${escapeHtml(title)}</h3>${svg(title, body)}`;
}

function charts(r: BacktestResult): string {
  const s = r.series;
  if (s.time.length < 2) return '<p>Fewer than two bars were traded, so there are no charts.</p>';
  const xLo = isoOf(s.time[0]);
  const xHi = isoOf(s.time[s.time.length - 1]);
  const name = `${r.model.name} (${r.trading.mode})`;
  const realisedVsPred: Line[] = [
    { name: 'realised log return', color: '#999', ys: s.actual },
    { name: `predicted: ${r.model.name}`, color: '#d62728', ys: s.pred },
  ];
  return [
    lineChart('Equity after fees and slippage (start = 1)', xLo, xHi, [{ name, color: '#d62728', ys: s.equity }, { name: 'buy-and-hold', color: '#000', ys: s.buyHoldEquity }], (v) => fmt(v, 4)),
    lineChart('Drawdown from peak equity', xLo, xHi, [{ name, color: '#d62728', ys: s.drawdown.map((v) => -v) }], (v) => pct(v, 1)),
    lineChart('Predicted and realised next-period log returns', xLo, xHi, realisedVsPred, (v) => fmt(v, 3)),
    scatterChart(`Predicted (x) vs realised (y) log return: ${r.model.name}`, s.pred, s.actual),
    lineChart(`Rolling directional accuracy (${typeof r.config.rollingWindow === 'number' ? r.config.rollingWindow : NA} bars)`, xLo, xHi, [
      { name: r.model.name, color: '#d62728', ys: s.rollingDirectionalAccuracy },
      { name: '50%', color: '#999', ys: s.time.map(() => 0.5) },
    ], (v) => pct(v, 0)),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

function metricsRow(label: string, m: ModelMetrics, cls: string): string {
  const ci = m.direction.ci95;
  return `<tr${cls ? ` class="${cls}"` : ''}><td>${escapeHtml(label)}</td><td>${m.regression.n}</td><td>${fmt(m.regression.mae)}</td><td>${fmt(m.regression.rmse)}</td><td>${pct(m.direction.accuracy, 1)}</td><td>${ci ? `[${pct(ci.low, 1)}, ${pct(ci.high, 1)}]` : NA}</td><td>${fixed(m.dmVsPersistence.stat, 3)}</td><td>${pval(m.dmVsPersistence.pValue)}</td><td>${pct(m.trading.totalReturn)}</td><td>${fixed(m.trading.sharpe, 2)}</td><td>${pct(m.trading.maxDrawdown)}</td><td>${m.trading.trades}</td><td>${pct(m.trading.exposure, 0)}</td></tr>`;
}

function metricsTable(r: BacktestResult): string {
  const head = '<tr><th>forecast</th><th>n</th><th>MAE</th><th>RMSE</th><th>DA</th><th>DA 95% CI</th><th>DM stat (HLN)</th><th>DM p</th><th>PnL</th><th>Sharpe</th><th>max DD</th><th>trades</th><th>exposure</th></tr>';
  const bh: TradingSummary = r.metrics.buyAndHold;
  const rows = [
    metricsRow(`${r.model.name} (model)`, r.metrics.model, 'model'),
    metricsRow('persistence', r.metrics.persistence, ''),
    metricsRow('ema-drift', r.metrics.emaDrift, ''),
    `<tr class="bh"><td>buy-and-hold</td><td>${bh.n}</td><td>${NA}</td><td>${NA}</td><td>${NA}</td><td>${NA}</td><td>${NA}</td><td>${NA}</td><td>${pct(bh.totalReturn)}</td><td>${fixed(bh.sharpe, 2)}</td><td>${pct(bh.maxDrawdown)}</td><td>${bh.trades}</td><td>${pct(bh.exposure, 0)}</td></tr>`,
  ];
  return `<table>${head}${rows.join('')}</table>`;
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
  const rows = r.retrains.map((x) => `<tr><td>${x.index + 1}</td><td>${escapeHtml(x.at)}</td><td>${escapeHtml(x.trainFrom)} &rarr; ${escapeHtml(x.trainTo)}</td><td>${x.nTrain}</td><td>${escapeHtml(x.valFrom)} &rarr; ${escapeHtml(x.valTo)}</td><td>${x.nVal}</td><td>${escapeHtml(x.lastTargetTime ?? NA)}</td><td>${x.seed}</td><td>${x.epochsRun}</td><td>${x.bars}</td></tr>`).join('');
  return `<h2>Walk-forward retrains</h2><p>Each retrain fits only on windows whose targets close at or before its retrain point; its model predicts until the next retrain.</p><table><tr><th>#</th><th>at</th><th>train</th><th>n</th><th>validation</th><th>n</th><th>last target</th><th>seed</th><th>epochs</th><th>bars predicted</th></tr>${rows}</table>`;
}

const CSS = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
td:first-child,th:first-child,.kv td{text-align:left}tr.model{background:#fff4e5;font-weight:600}tr.bh{color:#555}
.summary{padding:1em;border-left:5px solid #888;background:#f6f6f6}
.legend span{margin-right:1em;font-size:12px}.legend i{display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle}`;

/** A self-contained HTML page for a BacktestResult. */
export function renderBacktestReport(r: BacktestResult): string {
  const title = `BitPredict backtest: ${r.model.name} ${r.model.version} on ${r.range.symbol} ${r.range.interval}, ${r.range.from} to ${r.range.to}`;
  const t = r.trading;
  const m = r.metrics.model;
  const bh = r.metrics.buyAndHold;
  const summary = `Over ${r.data.bars} traded bars, a ${t.mode} rule on the forecasts of ${r.model.name} ${r.model.version} returned ${pct(t.summary.totalReturn)} after ${fmt(t.feeBps)} bps fee and ${fmt(t.slippageBps)} bps slippage per side (Sharpe ${fixed(t.summary.sharpe, 2)}, max drawdown ${pct(t.summary.maxDrawdown)}, ${t.summary.trades} trades), against ${pct(bh.totalReturn)} for buy-and-hold. Its direction was right ${pct(m.direction.accuracy, 1)} of the time; persistence (no change) has RMSE ${fmt(r.metrics.persistence.regression.rmse)} against the model's ${fmt(m.regression.rmse)}.`;
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
