// The price pane's candles and the volume histogram under them, redrawn incrementally: a candle
// appended or replacing the last is an update(); only a change further back redraws the series.
import { CandlestickSeries, HistogramSeries, type IChartApi, type ISeriesApi, type UTCTimestamp } from 'lightweight-charts';
import type { Candle } from '../types.js';
import { appendable, toTime, tryUpdate } from './series.js';

const UP = '#3fb950';
const DOWN = '#f85149';

export interface CandleLayer {
  /** The candle series (the past forecasts' markers sit on it). */
  readonly series: ISeriesApi<'Candlestick'>;
  /** Draws `candles`; `from` is the first index that changed since the last call. */
  draw(candles: readonly Candle[], from: number): void;
  clear(): void;
}

function candleBar(c: Candle): { time: UTCTimestamp; open: number; high: number; low: number; close: number } {
  return { time: toTime(c.openTime), open: c.open, high: c.high, low: c.low, close: c.close };
}

function volumeBar(c: Candle): { time: UTCTimestamp; value: number; color: string } {
  return { time: toTime(c.openTime), value: c.volume, color: c.close >= c.open ? 'rgba(63, 185, 80, 0.35)' : 'rgba(248, 81, 73, 0.35)' };
}

export function createCandleLayer(chart: IChartApi): CandleLayer {
  const series = chart.addSeries(CandlestickSeries, {
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
  let lastCandle: number | null = null;

  return {
    series,
    draw(candles, from) {
      const updated = tryUpdate(appendable(candles, from, lastCandle), () => {
        for (let i = from; i < candles.length; i++) {
          series.update(candleBar(candles[i]!));
          volume.update(volumeBar(candles[i]!));
        }
      });
      if (!updated) {
        series.setData(candles.map(candleBar));
        volume.setData(candles.map(volumeBar));
      }
      lastCandle = candles.at(-1)?.openTime ?? null;
    },
    clear() {
      series.setData([]);
      volume.setData([]);
      lastCandle = null;
    },
  };
}
