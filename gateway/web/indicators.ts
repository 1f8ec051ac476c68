// Overlay and pane values from the feature vectors, as (slot time, value) points; a vector whose
// indicator is still warming up (null) gives no point. The Bollinger bands are rebuilt from the
// 20-candle SMA (the middle band) and bbWidth = (upper - lower) / middle.
import type { Feature } from './types.js';

export interface Point {
  /** Chart slot: the openTime of the candle the vector belongs to. */
  time: number;
  value: number;
}

export const TOGGLES = ['sma', 'ema', 'bb', 'rsi', 'macd', 'sentiment'] as const;
export type Toggle = (typeof TOGGLES)[number];
export type Toggles = Record<Toggle, boolean>;

/** The lines each overlay toggle draws on the price pane, by the feature field they come from. */
export const OVERLAY_LINES = {
  sma: ['sma20', 'sma50'],
  ema: ['ema12', 'ema26'],
} as const;

export type LineField = 'sma20' | 'sma50' | 'ema12' | 'ema26' | 'rsi14' | 'macd' | 'macdSignal' | 'macdHist';

/** One point per vector where `field` is known. */
export function linePoint(f: Feature, field: LineField): Point | null {
  const v = f[field];
  return v === null ? null : { time: f.openTime, value: v };
}

/** Upper and lower Bollinger band (20, 2) of one vector, or null while warming up. */
export function bollinger(f: Feature): { time: number; upper: number; lower: number } | null {
  if (f.sma20 === null || f.bbWidth === null || f.bbWidth < 0) return null;
  const half = (f.sma20 * f.bbWidth) / 2;
  return { time: f.openTime, upper: f.sma20 + half, lower: f.sma20 - half };
}

/** Texts per hour over the vector's sentiment window, and their mean VADER score (null: none). */
export function sentiment(f: Feature): { time: number; perHour: number; mean: number | null } | null {
  if (f.textCount === null || f.sentimentWindowMs === null || f.sentimentWindowMs <= 0 || f.textCount < 0) return null;
  return { time: f.openTime, perHour: f.textCount / (f.sentimentWindowMs / 3_600_000), mean: f.vaderMean };
}

/** Colour of a sentiment bar: green for a positive mean, red for negative, grey for neutral or none. */
export function sentimentColor(mean: number | null): string {
  if (mean === null || Math.abs(mean) < 0.05) return 'rgba(139, 148, 158, 0.6)';
  const alpha = Math.min(1, 0.35 + Math.abs(mean)).toFixed(2);
  return mean > 0 ? `rgba(63, 185, 80, ${alpha})` : `rgba(248, 81, 73, ${alpha})`;
}

/** Toggles from the page's URL (?show=sma,rsi), else the defaults: overlays on, panes off. */
export function parseToggles(show: string | null): Toggles {
  const on = show === null ? new Set<string>(['sma', 'bb']) : new Set(show.split(',').map((s) => s.trim()));
  return Object.fromEntries(TOGGLES.map((t) => [t, on.has(t)])) as Toggles;
}
