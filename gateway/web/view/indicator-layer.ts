// The indicators drawn from feature vectors: SMA, EMA and Bollinger overlays on the price pane
// (shown or hidden), and the RSI, MACD and sentiment panes below (added and removed as toggled).
// Redrawn incrementally like the candles.
import { HistogramSeries, LineSeries, LineStyle, type IChartApi, type ISeriesApi, type SeriesType, type UTCTimestamp } from 'lightweight-charts';
import { bollinger, linePoint, sentiment, sentimentColor, type LineField, type Toggles } from '../indicators.js';
import type { Feature } from '../types.js';
import { appendable, QUIET, toTime, tryUpdate } from './series.js';

type Line = ISeriesApi<'Line'>;

/** The series of one lower pane and how each is filled from a feature vector. */
interface PaneSeries {
  series: ISeriesApi<SeriesType>;
  point(f: Feature): { time: UTCTimestamp; value: number; color?: string } | null;
}

export interface IndicatorLayer {
  /** Draws `features`; `from` is the first index that changed since the last call. */
  draw(features: readonly Feature[], from: number): void;
  /** Shows the overlays and panes `t` asks for; new panes are filled from `features`. */
  toggles(t: Toggles, features: readonly Feature[]): void;
  clear(): void;
}

function linePoints(features: readonly Feature[], field: LineField): { time: UTCTimestamp; value: number }[] {
  const out: { time: UTCTimestamp; value: number }[] = [];
  for (const f of features) {
    const p = linePoint(f, field);
    if (p !== null) out.push({ time: toTime(p.time), value: p.value });
  }
  return out;
}

function addLine(chart: IChartApi, pane: number, field: LineField, color: string, extra: object = {}): PaneSeries {
  const series = chart.addSeries(LineSeries, { ...QUIET, color, lineWidth: 1, ...extra }, pane);
  return {
    series,
    point: (f) => {
      const p = linePoint(f, field);
      return p === null ? null : { time: toTime(p.time), value: p.value };
    },
  };
}

/** Adds the panes `t` asks for below the price pane (RSI, MACD, sentiment, in that order) and returns their series. */
function addPanes(chart: IChartApi, container: HTMLElement, t: Toggles): PaneSeries[] {
  const panes: PaneSeries[] = [];
  let pane = 0;
  if (t.rsi) {
    pane++;
    const rsi = addLine(chart, pane, 'rsi14', '#58a6ff', { title: 'RSI 14', lastValueVisible: true });
    rsi.series.createPriceLine({ price: 70, color: '#6e7681', lineWidth: 1, lineStyle: LineStyle.Dotted, axisLabelVisible: false, title: '' });
    rsi.series.createPriceLine({ price: 30, color: '#6e7681', lineWidth: 1, lineStyle: LineStyle.Dotted, axisLabelVisible: false, title: '' });
    panes.push(rsi);
  }
  if (t.macd) {
    pane++;
    const hist = chart.addSeries(HistogramSeries, { ...QUIET, title: 'MACD hist' }, pane);
    panes.push({
      series: hist,
      point: (f) =>
        f.macdHist === null ? null : { time: toTime(f.openTime), value: f.macdHist, color: f.macdHist >= 0 ? 'rgba(63,185,80,0.5)' : 'rgba(248,81,73,0.5)' },
    });
    panes.push(addLine(chart, pane, 'macd', '#58a6ff', { title: 'MACD' }), addLine(chart, pane, 'macdSignal', '#d29922', { title: 'signal' }));
  }
  if (t.sentiment) {
    pane++;
    const bars = chart.addSeries(HistogramSeries, { ...QUIET, title: 'texts/h', priceFormat: { type: 'price', precision: 1, minMove: 0.1 } }, pane);
    panes.push({
      series: bars,
      point: (f) => {
        const s = sentiment(f);
        return s === null ? null : { time: toTime(s.time), value: s.perHour, color: sentimentColor(s.mean) };
      },
    });
  }
  chart.panes().forEach((p, i) => p.setStretchFactor(i === 0 ? 3.5 : 1));
  container.dataset.panes = String(pane);
  return panes;
}

/** Adds the overlays (hidden) to `chart`; the panes come with toggles(). */
export function createIndicatorLayer(chart: IChartApi, container: HTMLElement): IndicatorLayer {
  const overlay: Record<'sma20' | 'sma50' | 'ema12' | 'ema26', Line> = {
    sma20: chart.addSeries(LineSeries, { ...QUIET, color: '#d29922', lineWidth: 1, visible: false }),
    sma50: chart.addSeries(LineSeries, { ...QUIET, color: '#e3b341', lineWidth: 1, lineStyle: LineStyle.Dashed, visible: false }),
    ema12: chart.addSeries(LineSeries, { ...QUIET, color: '#bc8cff', lineWidth: 1, visible: false }),
    ema26: chart.addSeries(LineSeries, { ...QUIET, color: '#a371f7', lineWidth: 1, lineStyle: LineStyle.Dashed, visible: false }),
  };
  const bbUpper = chart.addSeries(LineSeries, { ...QUIET, color: 'rgba(201, 209, 217, 0.45)', lineWidth: 1, visible: false });
  const bbLower = chart.addSeries(LineSeries, { ...QUIET, color: 'rgba(201, 209, 217, 0.45)', lineWidth: 1, visible: false });
  const lines: [Line, LineField][] = [
    [overlay.sma20, 'sma20'],
    [overlay.sma50, 'sma50'],
    [overlay.ema12, 'ema12'],
    [overlay.ema26, 'ema26'],
  ];
  let panes: PaneSeries[] = [];
  let lastFeature: number | null = null;

  function drawBollinger(features: readonly Feature[]): void {
    const up: { time: UTCTimestamp; value: number }[] = [];
    const down: { time: UTCTimestamp; value: number }[] = [];
    for (const f of features) {
      const b = bollinger(f);
      if (b === null) continue;
      up.push({ time: toTime(b.time), value: b.upper });
      down.push({ time: toTime(b.time), value: b.lower });
    }
    bbUpper.setData(up);
    bbLower.setData(down);
  }

  function updateFeature(f: Feature): void {
    for (const [s, field] of lines) {
      const p = linePoint(f, field);
      if (p !== null) s.update({ time: toTime(p.time), value: p.value });
    }
    const b = bollinger(f);
    if (b !== null) {
      bbUpper.update({ time: toTime(b.time), value: b.upper });
      bbLower.update({ time: toTime(b.time), value: b.lower });
    }
    for (const p of panes) {
      const v = p.point(f);
      if (v !== null) p.series.update(v);
    }
  }

  function removePanes(): void {
    for (const p of panes) chart.removeSeries(p.series);
    panes = [];
    while (chart.panes().length > 1) chart.removePane(chart.panes().length - 1);
  }

  return {
    draw(features, from) {
      const updated = tryUpdate(appendable(features, from, lastFeature), () => {
        for (let i = from; i < features.length; i++) updateFeature(features[i]!);
      });
      if (!updated) {
        for (const [s, field] of lines) s.setData(linePoints(features, field));
        drawBollinger(features);
        for (const p of panes) p.series.setData(features.map(p.point).filter((v) => v !== null));
      }
      lastFeature = features.at(-1)?.openTime ?? null;
    },
    toggles(t, features) {
      overlay.sma20.applyOptions({ visible: t.sma });
      overlay.sma50.applyOptions({ visible: t.sma });
      overlay.ema12.applyOptions({ visible: t.ema });
      overlay.ema26.applyOptions({ visible: t.ema });
      bbUpper.applyOptions({ visible: t.bb });
      bbLower.applyOptions({ visible: t.bb });
      removePanes();
      panes = addPanes(chart, container, t);
      for (const p of panes) p.series.setData(features.map(p.point).filter((v) => v !== null));
    },
    clear() {
      for (const s of [bbUpper, bbLower, ...Object.values(overlay), ...panes.map((p) => p.series)]) s.setData([]);
      lastFeature = null;
    },
  };
}
