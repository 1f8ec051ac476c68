// Seeded simulations for the forecast tests and benches: Gaussian draws and a GARCH(1,1) path.
import { mulberry32 } from '../random.js';
import type { GarchParams } from './garch.js';

/** Standard normal draws from a seeded uniform source (Box-Muller). */
export function gaussianSource(seed: number): () => number {
  const u = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** n returns from GARCH(1,1) with Gaussian innovations, started at the unconditional variance. */
export function simulateGarch(p: GarchParams, n: number, seed: number): number[] {
  const g = gaussianSource(seed);
  let v = p.omega / (1 - p.alpha - p.beta);
  const r: number[] = [];
  for (let t = 0; t < n; t++) {
    const x = Math.sqrt(v) * g();
    r.push(x);
    v = p.omega + p.alpha * x * x + p.beta * v;
  }
  return r;
}

/** An hourly candle series from returns, with the candles at the given indices left out (gaps). */
export function candlesFrom(
  returns: readonly number[],
  start: number,
  stepMs: number,
  dropAt: ReadonlySet<number> = new Set(),
): { times: number[]; closes: number[] } {
  const times: number[] = [];
  const closes: number[] = [];
  let c = 30_000;
  for (let i = 0; i < returns.length; i++) {
    c *= Math.exp(returns[i]!);
    if (dropAt.has(i)) continue;
    times.push(start + i * stepMs);
    closes.push(c);
  }
  return { times, closes };
}
