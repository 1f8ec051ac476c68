// A custom lightweight-charts series that fills price bands and draws a median line: the forecast
// fan ahead of the last candle (50/80/90 % intervals at each horizon's target time) and the past
// forecasts' 80 % band beside the candles. The library has no series that fills between two
// moving bounds; this draws them on the pane's canvas with the library's own coordinates.
import {
  customSeriesDefaultOptions,
  type CustomData,
  type CustomSeriesOptions,
  type CustomSeriesPricePlotValues,
  type CustomSeriesWhitespaceData,
  type ICustomSeriesPaneRenderer,
  type ICustomSeriesPaneView,
  type PaneRendererCustomData,
  type PriceToCoordinateConverter,
  type Time,
} from 'lightweight-charts';

export interface BandData extends CustomData<Time> {
  /** Price bounds, outermost first: [low, high]. */
  bands: readonly (readonly [number, number])[];
  median: number | null;
}

export interface BandOptions extends CustomSeriesOptions {
  /** Fill of each band, outermost first. */
  bandColors: readonly string[];
  medianColor: string;
  /** Join points that are not neighbours on the time scale (the fan's horizons); else a hole breaks the band. */
  connectGaps: boolean;
}

type Target = Parameters<ICustomSeriesPaneRenderer['draw']>[0];
type Bar = PaneRendererCustomData<Time, BandData>['bars'][number];

function isBand(d: BandData | CustomSeriesWhitespaceData<Time>): d is BandData {
  return Array.isArray((d as Partial<BandData>).bands) && (d as BandData).bands.length > 0;
}

/** Runs of bars to draw as one shape: split at holes unless gaps are joined. */
function runsOf(bars: readonly Bar[], connectGaps: boolean): Bar[][] {
  const runs: Bar[][] = [];
  let run: Bar[] = [];
  for (const b of bars) {
    const prev = run.at(-1);
    if (prev !== undefined && !connectGaps && b.time - prev.time > 1) {
      runs.push(run);
      run = [];
    }
    run.push(b);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

class BandRenderer implements ICustomSeriesPaneRenderer {
  data: PaneRendererCustomData<Time, BandData> | null = null;
  options: BandOptions | null = null;

  draw(target: Target, toY: PriceToCoordinateConverter): void {
    const data = this.data;
    const opts = this.options;
    if (data === null || opts === null || data.bars.length === 0) return;
    const range = data.visibleRange;
    // One bar either side of the visible range, so shapes run on to the edges.
    const from = range === null ? 0 : Math.max(0, range.from - 1);
    const to = range === null ? data.bars.length : Math.min(data.bars.length, range.to + 1);
    const bars = data.bars.slice(from, to).filter((b) => isBand(b.originalData));
    if (bars.length === 0) return;
    target.useBitmapCoordinateSpace(({ context: ctx, horizontalPixelRatio: hr, verticalPixelRatio: vr }) => {
      for (const run of runsOf(bars, opts.connectGaps)) {
        this.fillBands(ctx, run, toY, hr, vr, opts);
        this.strokeMedian(ctx, run, toY, hr, vr, opts, Math.max(1, Math.round(hr)));
      }
    });
  }

  private fillBands(ctx: CanvasRenderingContext2D, run: Bar[], toY: PriceToCoordinateConverter, hr: number, vr: number, opts: BandOptions): void {
    const depth = Math.max(...run.map((b) => b.originalData.bands.length));
    for (let i = 0; i < depth; i++) {
      const pts = run.filter((b) => b.originalData.bands[i] !== undefined);
      if (pts.length === 0) continue;
      ctx.beginPath();
      pts.forEach((b, k) => {
        const y = toY(b.originalData.bands[i]![1]);
        if (y === null) return;
        if (k === 0) ctx.moveTo(b.x * hr, y * vr);
        else ctx.lineTo(b.x * hr, y * vr);
      });
      for (let k = pts.length - 1; k >= 0; k--) {
        const y = toY(pts[k]!.originalData.bands[i]![0]);
        if (y !== null) ctx.lineTo(pts[k]!.x * hr, y * vr);
      }
      ctx.closePath();
      ctx.fillStyle = opts.bandColors[i] ?? opts.bandColors.at(-1) ?? 'rgba(88,166,255,0.2)';
      ctx.fill();
    }
  }

  private strokeMedian(
    ctx: CanvasRenderingContext2D,
    run: Bar[],
    toY: PriceToCoordinateConverter,
    hr: number,
    vr: number,
    opts: BandOptions,
    width: number,
  ): void {
    ctx.beginPath();
    let started = false;
    for (const b of run) {
      const y = b.originalData.median === null ? null : toY(b.originalData.median);
      if (y === null) continue;
      if (started) ctx.lineTo(b.x * hr, y * vr);
      else ctx.moveTo(b.x * hr, y * vr);
      started = true;
    }
    ctx.setLineDash([4 * width, 3 * width]);
    ctx.lineWidth = width;
    ctx.strokeStyle = opts.medianColor;
    ctx.stroke();
    ctx.setLineDash([]);
  }
}

export class BandSeries implements ICustomSeriesPaneView<Time, BandData, BandOptions> {
  private readonly view = new BandRenderer();

  renderer(): ICustomSeriesPaneRenderer {
    return this.view;
  }

  update(data: PaneRendererCustomData<Time, BandData>, options: BandOptions): void {
    this.view.data = data;
    this.view.options = options;
  }

  priceValueBuilder(d: BandData): CustomSeriesPricePlotValues {
    const all = d.bands.flat();
    return [Math.min(...all), Math.max(...all), d.median ?? all[0]!];
  }

  isWhitespace(d: BandData | CustomSeriesWhitespaceData<Time>): d is CustomSeriesWhitespaceData<Time> {
    return !isBand(d);
  }

  defaultOptions(): BandOptions {
    return {
      ...customSeriesDefaultOptions,
      bandColors: ['rgba(88, 166, 255, 0.12)', 'rgba(88, 166, 255, 0.18)', 'rgba(88, 166, 255, 0.26)'],
      medianColor: 'rgba(121, 192, 255, 0.95)',
      connectGaps: true,
    };
  }
}
