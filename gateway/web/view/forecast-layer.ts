// The price pane's forecasts: the latest forecast's fan ahead of the last candle, and the past
// forecasts' 80 % band with a marker per outcome on the candles. Each is set again only when it
// changed (setData makes the library recompute its time scale over every series).
import { createSeriesMarkers, type IChartApi, type ISeriesApi, type SeriesMarker, type SeriesType, type Time, type UTCTimestamp } from 'lightweight-charts';
import type { Fan } from '../forecast.js';
import type { Outcome } from '../outcomes.js';
import { BandSeries, type BandData, type BandOptions } from './band-series.js';
import { QUIET, toTime } from './series.js';

export type PastBand = readonly { slotTime: number; lo: number; hi: number; median: number }[];

export interface ForecastLayer {
  /** The fan of the latest forecast, with whitespace on every step up to its last horizon. */
  fan(fan: Fan | null, stepMs: number): void;
  /** The past forecasts' 80 % band (oldest first) and the markers of their outcomes. */
  past(band: PastBand, outcomes: readonly Outcome[]): void;
  clear(): void;
}

/** The fan's points: the origin, each horizon's bands (widest first) and median, whitespace between. */
function fanData(fan: Fan, stepMs: number): (BandData | { time: UTCTimestamp })[] {
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
  return data;
}

function outcomeMarkers(outcomes: readonly Outcome[]): SeriesMarker<Time>[] {
  return [...outcomes]
    .sort((a, b) => a.slotTime - b.slotTime)
    .map((o) => ({
      time: toTime(o.slotTime),
      position: o.called === 'down' ? 'aboveBar' : 'belowBar',
      shape: o.called === 'up' ? 'arrowUp' : o.called === 'down' ? 'arrowDown' : 'circle',
      color: o.inside ? '#58a6ff' : '#f0883e',
      text: o.right === null ? '' : o.right ? '✓' : '✗',
      size: 0.6,
    }));
}

/** Adds the band series to `chart`; the outcome markers go on `candles`. */
export function createForecastLayer(chart: IChartApi, candles: ISeriesApi<SeriesType>): ForecastLayer {
  const pastBand = chart.addCustomSeries<BandData, BandOptions>(new BandSeries(), {
    ...QUIET,
    bandColors: ['rgba(139, 148, 158, 0.14)'],
    medianColor: 'rgba(139, 148, 158, 0.7)',
    connectGaps: false,
  });
  const fanSeries = chart.addCustomSeries<BandData, BandOptions>(new BandSeries(), { ...QUIET, title: 'forecast' });
  const markers = createSeriesMarkers(candles, []);
  let fanKey = '';
  let pastKey = '';

  return {
    fan(fan, stepMs) {
      const key = fan === null ? '' : JSON.stringify(fan);
      if (key === fanKey) return;
      fanKey = key;
      fanSeries.setData(fan === null || fan.horizons.length === 0 ? [] : fanData(fan, stepMs));
    },
    past(band, outcomes) {
      const key = `${band.length}|${band[0]?.slotTime}|${band.at(-1)?.slotTime}|${band.at(-1)?.median}|${outcomes.map((o) => `${o.slotTime}${o.inside}${o.right}`).join()}`;
      if (key === pastKey) return;
      pastKey = key;
      pastBand.setData(band.map((b) => ({ time: toTime(b.slotTime), bands: [[b.lo, b.hi] as const], median: b.median })));
      markers.setMarkers(outcomeMarkers(outcomes));
    },
    clear() {
      pastBand.setData([]);
      fanSeries.setData([]);
      markers.setMarkers([]);
      fanKey = pastKey = '';
    },
  };
}
