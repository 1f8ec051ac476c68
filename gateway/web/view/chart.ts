// The chart (lightweight-charts 5): candles with volume on the price pane (candle-layer.ts), the
// forecast fan and the past forecasts' band and markers (forecast-layer.ts), SMA/EMA/Bollinger
// overlays and RSI, MACD and sentiment panes below, each toggled (indicator-layer.ts).
import { ColorType, createChart, type IChartApi } from 'lightweight-charts';
import type { Fan } from '../forecast.js';
import type { Toggles } from '../indicators.js';
import type { Outcome } from '../outcomes.js';
import type { Candle, Feature } from '../types.js';
import { createCandleLayer } from './candle-layer.js';
import { createForecastLayer, type PastBand } from './forecast-layer.js';
import { createIndicatorLayer } from './indicator-layer.js';

export interface ChartView {
  /** Draws `candles`; `from` is the first index that changed since the last call. */
  candles(candles: readonly Candle[], from: number): void;
  features(features: readonly Feature[], from: number): void;
  /** The fan of the latest forecast, with whitespace on every step up to its last horizon. */
  fan(fan: Fan | null, stepMs: number): void;
  /** The past forecasts' 80 % band (oldest first) and the markers of their outcomes. */
  past(band: PastBand, outcomes: readonly Outcome[]): void;
  toggles(t: Toggles, features: readonly Feature[]): void;
  /** Empties every series (another symbol or interval). */
  clear(): void;
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
  // In the order the series were always added (it sets what is drawn over what).
  const candles = createCandleLayer(chart);
  const forecasts = createForecastLayer(chart, candles.series);
  const indicators = createIndicatorLayer(chart, container);

  return {
    candles: (list, from) => candles.draw(list, from),
    features: (list, from) => indicators.draw(list, from),
    fan: (fan, stepMs) => forecasts.fan(fan, stepMs),
    past: (band, outcomes) => forecasts.past(band, outcomes),
    toggles: (t, features) => indicators.toggles(t, features),
    clear() {
      candles.clear();
      forecasts.clear();
      indicators.clear();
    },
  };
}
