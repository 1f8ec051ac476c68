// The pieces both self-contained HTML reports (the evaluation's, trainer/domain/report.ts, and the
// backtest's, trainer/backtest/report.ts) are made of: number formatting where a missing or
// non-finite number prints as "n/a", HTML escaping, inline SVG line and scatter charts, the
// metrics table and the page style. Pure: strings in, strings out.
import type { ModelMetrics, TradingSummary } from './metrics.js';

export const NA = 'n/a';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Number with `digits` significant places, or n/a. */
export function fmt(x: number | null | undefined, digits = 4): string {
  if (!isNum(x)) return NA;
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e6) return Number(x.toPrecision(digits)).toString();
  return x.toExponential(digits - 1);
}

export function fixed(x: number | null | undefined, d: number): string {
  return isNum(x) ? x.toFixed(d) : NA;
}

export function pct(x: number | null | undefined, d = 2): string {
  return isNum(x) ? `${(x * 100).toFixed(d)}%` : NA;
}

export function pval(p: number | null | undefined): string {
  if (!isNum(p)) return NA;
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

export function iso(t: number | undefined): string {
  return isNum(t) ? new Date(t).toISOString() : NA;
}

// ---------------------------------------------------------------------------------------------
// SVG charts
// ---------------------------------------------------------------------------------------------

const W = 860;
const H = 300;
const PAD = { l: 64, r: 16, t: 16, b: 36 };

/** One line of a chart; a null or non-finite point is not drawn. */
export interface Line {
  name: string;
  ys: ArrayLike<number | null>;
  color: string;
}

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

/** Lines over the point index, at most `maxPoints` points each (every k-th, and the last). */
export function lineChart(title: string, xLo: string, xHi: string, lines: Line[], yFmt: (v: number) => string, maxPoints = 1200): string {
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

/** Predicted (x) against realised (y), with the zero lines when they are in range. */
export function scatterChart(title: string, xs: ArrayLike<number>, ys: ArrayLike<number>, maxPoints = 3000): string {
  const n = Math.min(xs.length, ys.length);
  const ex = extent(Array.from(xs));
  const ey = extent(Array.from(ys));
  if (n < 1 || ex === null || ey === null) return `<h3>${escapeHtml(title)}</h3><p>n/a (not enough data)</p>`;
  const [xl, xh] = ex;
  const [yl, yh] = ey;
  const sx = (v: number): number => PAD.l + ((W - PAD.l - PAD.r) * (v - xl)) / (xh - xl);
  const sy = (v: number): number => H - PAD.b - ((H - PAD.t - PAD.b) * (v - yl)) / (yh - yl);
  let body = axes(`predicted ${fmt(xl, 3)}`, `predicted ${fmt(xh, 3)}`, yl, yh, (v) => fmt(v, 3));
  if (xl < 0 && xh > 0)
    body += `<line x1="${sx(0).toFixed(1)}" y1="${PAD.t}" x2="${sx(0).toFixed(1)}" y2="${H - PAD.b}" stroke="#bbb" stroke-dasharray="4 3"/>`;
  if (yl < 0 && yh > 0)
    body += `<line x1="${PAD.l}" y1="${sy(0).toFixed(1)}" x2="${W - PAD.r}" y2="${sy(0).toFixed(1)}" stroke="#bbb" stroke-dasharray="4 3"/>`;
  const st = Math.max(1, Math.ceil(n / maxPoints));
  for (let i = 0; i < n; i += st) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (isNum(x) && isNum(y)) body += `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="1.6" fill="#1f77b4" fill-opacity="0.5"/>`;
  }
  return `<h3>${escapeHtml(title)}</h3>${svg(title, body)}`;
}

// ---------------------------------------------------------------------------------------------
// Tables and style
// ---------------------------------------------------------------------------------------------

/** Forecasts beside buy-and-hold: errors, direction, Diebold-Mariano and the trading rule's PnL. */
export function metricsTable(rows: { label: string; metrics: ModelMetrics; highlight: boolean }[], bh: TradingSummary): string {
  const head =
    '<tr><th>forecast</th><th>n</th><th>MAE</th><th>RMSE</th><th>DA</th><th>DA 95% CI</th><th>DM stat (HLN)</th><th>DM p</th><th>PnL</th><th>Sharpe</th><th>max DD</th><th>trades</th><th>exposure</th></tr>';
  const body = rows.map(({ label, metrics: m, highlight }) => {
    const ci = m.direction.ci95;
    return `<tr${highlight ? ' class="model"' : ''}><td>${escapeHtml(label)}</td><td>${m.regression.n}</td><td>${fmt(m.regression.mae)}</td><td>${fmt(m.regression.rmse)}</td><td>${pct(m.direction.accuracy, 1)}</td><td>${ci ? `[${pct(ci.low, 1)}, ${pct(ci.high, 1)}]` : NA}</td><td>${fixed(m.dmVsPersistence.stat, 3)}</td><td>${pval(m.dmVsPersistence.pValue)}</td><td>${pct(m.trading.totalReturn)}</td><td>${fixed(m.trading.sharpe, 2)}</td><td>${pct(m.trading.maxDrawdown)}</td><td>${m.trading.trades}</td><td>${pct(m.trading.exposure, 0)}</td></tr>`;
  });
  body.push(
    `<tr class="bh"><td>buy-and-hold</td><td>${bh.n}</td><td>${NA}</td><td>${NA}</td><td>${NA}</td><td>${NA}</td><td>${NA}</td><td>${NA}</td><td>${pct(bh.totalReturn)}</td><td>${fixed(bh.sharpe, 2)}</td><td>${pct(bh.maxDrawdown)}</td><td>${bh.trades}</td><td>${pct(bh.exposure, 0)}</td></tr>`,
  );
  return `<table>${head}${body.join('')}</table>`;
}

/** The page style; `extra` adds the rules of the report's own summary box. */
export function reportCss(extra: string): string {
  return `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
td:first-child,th:first-child,.kv td{text-align:left}tr.model{background:#fff4e5;font-weight:600}tr.bh{color:#555}
${extra}
.legend span{margin-right:1em;font-size:12px}.legend i{display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle}`;
}

// ---------------------------------------------------------------------------------------------
// Distribution charts: fan, reliability diagram, PIT histogram
// ---------------------------------------------------------------------------------------------

/** A band of a fan chart: lo[i]..hi[i] shaded (a null ends the shaded run). */
export interface Band {
  name: string;
  lo: ArrayLike<number | null>;
  hi: ArrayLike<number | null>;
  color: string;
  opacity: number;
  /** outline only (dashed), for a band drawn over another forecaster's */
  outline?: boolean;
}

/** Realised values (dots) over shaded central intervals, against the point index. */
export function fanChart(title: string, xLo: string, xHi: string, ys: ArrayLike<number | null>, bands: Band[], yFmt: (v: number) => string): string {
  const n = ys.length;
  const ext = extent([...Array.from(ys), ...bands.flatMap((b) => [...Array.from(b.lo), ...Array.from(b.hi)])]);
  if (n < 2 || ext === null) return `<h3>${escapeHtml(title)}</h3><p>n/a (not enough data)</p>`;
  const [lo, hi] = ext;
  const sx = (i: number): number => PAD.l + ((W - PAD.l - PAD.r) * i) / (n - 1);
  const sy = (v: number): number => H - PAD.b - ((H - PAD.t - PAD.b) * (v - lo)) / (hi - lo);
  let body = axes(xLo, xHi, lo, hi, yFmt);
  for (const b of bands) {
    // One polygon per run of points where both edges are known.
    let run: number[] = [];
    const flush = (): void => {
      if (run.length > 1) {
        const top = run.map((i) => `${sx(i).toFixed(1)},${sy(b.hi[i] as number).toFixed(1)}`);
        const bottom = [...run].reverse().map((i) => `${sx(i).toFixed(1)},${sy(b.lo[i] as number).toFixed(1)}`);
        body += b.outline
          ? `<polyline fill="none" stroke="${escapeHtml(b.color)}" stroke-dasharray="4 3" points="${top.join(' ')}"/><polyline fill="none" stroke="${escapeHtml(b.color)}" stroke-dasharray="4 3" points="${bottom.join(' ')}"/>`
          : `<polygon fill="${escapeHtml(b.color)}" fill-opacity="${b.opacity}" stroke="none" points="${[...top, ...bottom].join(' ')}"/>`;
      }
      run = [];
    };
    for (let i = 0; i < n; i++) {
      if (isNum(b.lo[i]) && isNum(b.hi[i])) run.push(i);
      else flush();
    }
    flush();
  }
  for (let i = 0; i < n; i++) {
    const v = ys[i];
    if (isNum(v)) body += `<circle cx="${sx(i).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="1.8" fill="#000"/>`;
  }
  return `<h3>${escapeHtml(title)}</h3>${legend([...bands.map((b) => ({ name: b.name, color: b.color })), { name: 'realised', color: '#000' }])}${svg(title, body)}`;
}

/** Points (x = mean forecast probability, y = observed frequency) of several forecasters, with the diagonal. */
export function reliabilityChart(title: string, series: { name: string; color: string; points: { p: number; observed: number }[] }[]): string {
  const all = series.flatMap((s) => s.points.flatMap((q) => [q.p, q.observed]));
  const ext = extent(all);
  if (ext === null) return `<h3>${escapeHtml(title)}</h3><p>n/a (not enough data)</p>`;
  // Square axes around the data, so the diagonal (perfect reliability) is the 45-degree line.
  const lo = Math.max(0, ext[0] - 0.01);
  const hi = Math.min(1, ext[1] + 0.01);
  const sx = (v: number): number => PAD.l + ((W - PAD.l - PAD.r) * (v - lo)) / (hi - lo);
  const sy = (v: number): number => H - PAD.b - ((H - PAD.t - PAD.b) * (v - lo)) / (hi - lo);
  let body = axes(`P(up) ${fmt(lo, 3)}`, `P(up) ${fmt(hi, 3)}`, lo, hi, (v) => fmt(v, 3));
  body += `<line x1="${sx(lo).toFixed(1)}" y1="${sy(lo).toFixed(1)}" x2="${sx(hi).toFixed(1)}" y2="${sy(hi).toFixed(1)}" stroke="#999" stroke-dasharray="4 3"/>`;
  for (const s of series) {
    const pts = s.points.filter((q) => isNum(q.p) && isNum(q.observed)).map((q) => `${sx(q.p).toFixed(1)},${sy(q.observed).toFixed(1)}`);
    if (pts.length > 1) body += `<polyline fill="none" stroke="${escapeHtml(s.color)}" stroke-width="1.2" points="${pts.join(' ')}"/>`;
    for (const pt of pts) {
      const [x, y] = pt.split(',');
      body += `<circle cx="${x}" cy="${y}" r="3" fill="${escapeHtml(s.color)}"/>`;
    }
  }
  return `<h3>${escapeHtml(title)}</h3>${legend([...series, { name: 'perfectly reliable', color: '#999' }])}${svg(title, body)}`;
}

/** Bars of shares (counts / total) per equal bin of [0, 1], with the uniform level as a dashed line. */
export function histogramChart(title: string, counts: readonly number[], color = '#1f77b4'): string {
  const total = counts.reduce((s, c) => s + c, 0);
  if (counts.length === 0 || total === 0) return `<h3>${escapeHtml(title)}</h3><p>n/a (no data)</p>`;
  const shares = counts.map((c) => c / total);
  const uniform = 1 / counts.length;
  const hi = Math.max(uniform, ...shares) * 1.1;
  const bw = (W - PAD.l - PAD.r) / counts.length;
  const sy = (v: number): number => H - PAD.b - ((H - PAD.t - PAD.b) * v) / hi;
  let body = axes('PIT 0', 'PIT 1', 0, hi, (v) => pct(v, 1));
  shares.forEach((s, i) => {
    body += `<rect x="${(PAD.l + i * bw + 1).toFixed(1)}" y="${sy(s).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(sy(0) - sy(s)).toFixed(1)}" fill="${escapeHtml(color)}" fill-opacity="0.7"/>`;
  });
  body += `<line x1="${PAD.l}" y1="${sy(uniform).toFixed(1)}" x2="${W - PAD.r}" y2="${sy(uniform).toFixed(1)}" stroke="#d62728" stroke-dasharray="4 3"/>`;
  return `<h3>${escapeHtml(title)}</h3>${svg(title, body)}`;
}
