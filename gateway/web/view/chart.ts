// The chart (lightweight-charts 5): candles with volume on the price pane, the forecast fan and
// the past forecasts' band and markers, SMA/EMA/Bollinger overlays, and RSI, MACD and sentiment
// panes below, each toggled. Redraws are incremental: a candle appended or replacing the last is
// an update(); only a change further back redraws the series.
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  HistogramSeries,
  LineSeries,
  LineStyle,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type SeriesMarker,
  type SeriesType,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { BandSeries, type BandData, type BandOptions } from './band-series.js';
import { bollinger, linePoint, sentiment, sentimentColor, type LineField, type Toggles } from '../indicators.js';
import type { Fan } from '../forecast.js';
import type { Outcome } from '../outcomes.js';
import type { Candle, Feature } from '../types.js';

const UP = '#3fb950';
const DOWN = '#f85149';

export function toTime(ms: number): UTCTimestamp {
  return Math.floor(ms / 1000) as UTCTimestamp;
}

type Line = ISeriesApi<'Line'>;

/** The series of one lower pane and how each is filled from a feature vector. */
interface PaneSeries {
  series: ISeriesApi<SeriesType>;
  point(f: Feature): { time: UTCTimestamp; value: number; color?: string } | null;
}

export interface ChartView {
  /** Draws `candles`; `from` is the first index that changed since the last call. */
  candles(candles: readonly Candle[], from: number): void;
  features(features: readonly Feature[], from: number): void;
  /** The fan of the latest forecast, with whitespace on every step up to its last horizon. */
  fan(fan: Fan | null, stepMs: number): void;
  /** The past forecasts' 80 % band (oldest first) and the markers of their outcomes. */
  past(band: readonly { slotTime: number; lo: number; hi: number; median: number }[], outcomes: readonly Outcome[]): void;
  toggles(t: Toggles, features: readonly Feature[]): void;
  /** Empties every series (another symbol or interval). */
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

function candleBar(c: Candle): { time: UTCTimestamp; open: number; high: number; low: number; close: number } {
  return { time: toTime(c.openTime), open: c.open, high: c.high, low: c.low, close: c.close };
}

function volumeBar(c: Candle): { time: UTCTimestamp; value: number; color: string } {
  return { time: toTime(c.openTime), value: c.volume, color: c.close >= c.open ? 'rgba(63, 185, 80, 0.35)' : 'rgba(248, 81, 73, 0.35)' };
}

export function createChartView(container: HTMLElement): ChartView {
  const chart: IChartApi = createChart(container, {
    autoSize: true,
    layout: {
      background: { type: ColorType.Solid, color: '#0f1419' },
      textColor: '#c9d1d9',
      // The logo would add an inline <style> element, which the page's CSP refuses; the footer
      // carries the attribution and link the library's licence asks for instead.
      attributionLogo: false,
      panes: { separatorColor: '#30363d' },
    },
    grid: { vertLines: { color: '#1c2128' }, horzLines: { color: '#1c2128' } },
    rightPriceScale: { borderColor: '#30363d' },
    timeScale: { borderColor: '#30363d', timeVisible: true, secondsVisible: false, rightOffset: 3 },
  });
  const candleSeries = chart.addSeries(CandlestickSeries, {
    upColor: UP,
    downColor: DOWN,
    borderVisible: false,
    wickUpColor: UP,
    wickDownColor: DOWN,
  });
  const volume = chart.addSeries(HistogramSeries, {
    priceScaleId: 'volume',
    priceFormat: { type: 'volume' },
    lastValueVisible: false,
    priceLineVisible: false,
  });
  chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
  const quiet = { lastValueVisible: false, priceLineVisible: false, crosshairMarkerVisible: false } as const;
  const pastBand = chart.addCustomSeries<BandData, BandOptions>(new BandSeries(), {
    ...quiet,
    bandColors: ['rgba(139, 148, 158, 0.14)'],
    medianColor: 'rgba(139, 148, 158, 0.7)',
    connectGaps: false,
  });
  const fanSeries = chart.addCustomSeries<BandData, BandOptions>(new BandSeries(), { ...quiet, title: 'forecast' });
  const overlay: Record<'sma20' | 'sma50' | 'ema12' | 'ema26', Line> = {
    sma20: chart.addSeries(LineSeries, { ...quiet, color: '#d29922', lineWidth: 1, visible: false }),
    sma50: chart.addSeries(LineSeries, { ...quiet, color: '#e3b341', lineWidth: 1, lineStyle: LineStyle.Dashed, visible: false }),
    ema12: chart.addSeries(LineSeries, { ...quiet, color: '#bc8cff', lineWidth: 1, visible: false }),
    ema26: chart.addSeries(LineSeries, { ...quiet, color: '#a371f7', lineWidth: 1, lineStyle: LineStyle.Dashed, visible: false }),
  };
  const bbUpper = chart.addSeries(LineSeries, { ...quiet, color: 'rgba(201, 209, 217, 0.45)', lineWidth: 1, visible: false });
  const bbLower = chart.addSeries(LineSeries, { ...quiet, color: 'rgba(201, 209, 217, 0.45)', lineWidth: 1, visible: false });
  const markers: ISeriesMarkersPluginApi<Time> = createSeriesMarkers(candleSeries, []);
  let panes: PaneSeries[] = [];
  let lastCandle: number | null = null;
  let fanKey = '';
  let pastKey = '';
  let lastFeature: number | null = null;

  /**
   * Whether the items from `from` on can go in with update(): the library only takes a time at
   * or after the last one drawn (the same time replaces it). A late record inserted before the
   * last drawn one needs the whole series again.
   */
  function appendable(list: readonly { openTime: number }[], from: number, lastDrawn: number | null): boolean {
    const first = list[from];
    return lastDrawn !== null && first !== undefined && first.openTime >= lastDrawn;
  }

  /** Runs `update` when the change is appendable; false (nothing half-done left) when it is not or the library refused. */
  function tryUpdate(appendOnly: boolean, update: () => void): boolean {
    if (!appendOnly) return false;
    try {
      update();
      return true;
    } catch {
      return false;
    }
  }

  function drawCandles(candles: readonly Candle[], from: number): void {
    const updated = tryUpdate(appendable(candles, from, lastCandle), () => {
      for (let i = from; i < candles.length; i++) {
        candleSeries.update(candleBar(candles[i]!));
        volume.update(volumeBar(candles[i]!));
      }
    });
    if (!updated) {
      candleSeries.setData(candles.map(candleBar));
      volume.setData(candles.map(volumeBar));
    }
    lastCandle = candles.at(-1)?.openTime ?? null;
  }

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

  const lines: [Line, LineField][] = [
    [overlay.sma20, 'sma20'],
    [overlay.sma50, 'sma50'],
    [overlay.ema12, 'ema12'],
    [overlay.ema26, 'ema26'],
  ];

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

  function drawFeatures(features: readonly Feature[], from: number): void {
    const updated = tryUpdate(appendable(features, from, lastFeature), () => {
      for (let i = from; i < features.length; i++) updateFeature(features[i]!);
    });
    if (!updated) {
      for (const [s, field] of lines) s.setData(linePoints(features, field));
      drawBollinger(features);
      for (const p of panes) p.series.setData(features.map(p.point).filter((v) => v !== null));
    }
    lastFeature = features.at(-1)?.openTime ?? null;
  }

  function removePanes(): void {
    for (const p of panes) chart.removeSeries(p.series);
    panes = [];
    while (chart.panes().length > 1) chart.removePane(chart.panes().length - 1);
  }

  function addLine(pane: number, field: LineField, color: string, extra: object = {}): PaneSeries {
    const series = chart.addSeries(LineSeries, { ...quiet, color, lineWidth: 1, ...extra }, pane);
    return {
      series,
      point: (f) => {
        const p = linePoint(f, field);
        return p === null ? null : { time: toTime(p.time), value: p.value };
      },
    };
  }

  function addPanes(t: Toggles): void {
    let pane = 0;
    if (t.rsi) {
      pane++;
      const rsi = addLine(pane, 'rsi14', '#58a6ff', { title: 'RSI 14', lastValueVisible: true });
      rsi.series.createPriceLine({ price: 70, color: '#6e7681', lineWidth: 1, lineStyle: LineStyle.Dotted, axisLabelVisible: false, title: '' });
      rsi.series.createPriceLine({ price: 30, color: '#6e7681', lineWidth: 1, lineStyle: LineStyle.Dotted, axisLabelVisible: false, title: '' });
      panes.push(rsi);
    }
    if (t.macd) {
      pane++;
      const hist = chart.addSeries(HistogramSeries, { ...quiet, title: 'MACD hist' }, pane);
      panes.push({
        series: hist,
        point: (f) =>
          f.macdHist === null ? null : { time: toTime(f.openTime), value: f.macdHist, color: f.macdHist >= 0 ? 'rgba(63,185,80,0.5)' : 'rgba(248,81,73,0.5)' },
      });
      panes.push(addLine(pane, 'macd', '#58a6ff', { title: 'MACD' }), addLine(pane, 'macdSignal', '#d29922', { title: 'signal' }));
    }
    if (t.sentiment) {
      pane++;
      const bars = chart.addSeries(HistogramSeries, { ...quiet, title: 'texts/h', priceFormat: { type: 'price', precision: 1, minMove: 0.1 } }, pane);
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
  }

  return {
    candles: drawCandles,
    features: drawFeatures,
    fan(fan, stepMs) {
      // setData makes the library recompute its time scale over every series: only on a change.
      const key = fan === null ? '' : JSON.stringify(fan);
      if (key === fanKey) return;
      fanKey = key;
      if (fan === null || fan.horizons.length === 0) {
        fanSeries.setData([]);
        return;
      }
      const last = fan.horizons.at(-1)!.slotTime;
      const byTime = new Map<number, BandData>();
      byTime.set(fan.origin.slotTime, { time: toTime(fan.origin.slotTime), bands: [[fan.origin.price, fan.origin.price]], median: fan.origin.price });
      for (const h of fan.horizons) {
        const bands = (['90', '80', '50'] as const).map((n) => h.bands[n]).filter((b) => b !== undefined);
        byTime.set(h.slotTime, { time: toTime(h.slotTime), bands: bands.map((b) => [b.lo, b.hi] as const), median: h.median });
      }
      // Whitespace on every step, so the horizons sit at their true distance on the time scale.
      const data: (BandData | { time: UTCTimestamp })[] = [];
      for (let t = fan.origin.slotTime; t <= last; t += stepMs) data.push(byTime.get(t) ?? { time: toTime(t) });
      fanSeries.setData(data);
    },
    past(band, outcomes) {
      const key = `${band.length}|${band[0]?.slotTime}|${band.at(-1)?.slotTime}|${band.at(-1)?.median}|${outcomes.map((o) => `${o.slotTime}${o.inside}${o.right}`).join()}`;
      if (key === pastKey) return;
      pastKey = key;
      pastBand.setData(band.map((b) => ({ time: toTime(b.slotTime), bands: [[b.lo, b.hi] as const], median: b.median })));
      const list: SeriesMarker<Time>[] = [...outcomes]
        .sort((a, b) => a.slotTime - b.slotTime)
        .map((o) => ({
          time: toTime(o.slotTime),
          position: o.called === 'down' ? 'aboveBar' : 'belowBar',
          shape: o.called === 'up' ? 'arrowUp' : o.called === 'down' ? 'arrowDown' : 'circle',
          color: o.inside ? '#58a6ff' : '#f0883e',
          text: o.right === null ? '' : o.right ? '✓' : '✗',
          size: 0.6,
        }));
      markers.setMarkers(list);
    },
    toggles(t, features) {
      overlay.sma20.applyOptions({ visible: t.sma });
      overlay.sma50.applyOptions({ visible: t.sma });
      overlay.ema12.applyOptions({ visible: t.ema });
      overlay.ema26.applyOptions({ visible: t.ema });
      bbUpper.applyOptions({ visible: t.bb });
      bbLower.applyOptions({ visible: t.bb });
      removePanes();
      addPanes(t);
      for (const p of panes) p.series.setData(features.map(p.point).filter((v) => v !== null));
    },
    clear() {
      for (const s of [candleSeries, volume, pastBand, fanSeries, bbUpper, bbLower, ...Object.values(overlay), ...panes.map((p) => p.series)]) s.setData([]);
      markers.setMarkers([]);
      lastCandle = null;
      lastFeature = null;
      fanKey = pastKey = '';
    },
  };
}
