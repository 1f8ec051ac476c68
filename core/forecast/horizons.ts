// Forecast horizons per candle interval, from BITPREDICT_FORECAST_HORIZONS ("1h:1,4,24;1m:1,15"):
// each horizon is a separate target (the log return from close(t) to close(t + h * interval)) with
// its own forecast and its own evaluation. Pure code.
import { BitPredictError } from '../errors.js';

export type HorizonTable = ReadonlyMap<string, readonly number[]>;

/** Parses "1h:1,4,24;1m:1,15" into interval -> ascending horizon steps; throws on bad input. */
export function parseHorizons(spec: string): HorizonTable {
  const out = new Map<string, number[]>();
  for (const part of spec
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const m = /^([0-9]+[mhd]):([0-9,\s]+)$/.exec(part);
    if (m === null) throw new BitPredictError('ERR_CONFIG_INVALID', `forecast horizons "${part}" is not <interval>:<steps,...> (for example 1h:1,4,24)`);
    const interval = m[1]!;
    if (out.has(interval)) throw new BitPredictError('ERR_CONFIG_INVALID', `forecast horizons name interval ${interval} twice`);
    const steps = m[2]!
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map(Number);
    if (steps.length === 0 || steps.some((s) => !Number.isSafeInteger(s) || s < 1 || s > 10_000))
      throw new BitPredictError('ERR_CONFIG_INVALID', `forecast horizons for ${interval} must be integers in 1..10000, got "${m[2]!}"`);
    const sorted = [...new Set(steps)].sort((a, b) => a - b);
    if (sorted.length !== steps.length) throw new BitPredictError('ERR_CONFIG_INVALID', `forecast horizons for ${interval} repeat a step: "${m[2]!}"`);
    out.set(interval, sorted);
  }
  if (out.size === 0) throw new BitPredictError('ERR_CONFIG_INVALID', 'forecast horizons are empty');
  return out;
}

/** The horizons of an interval; an interval not in the table gets the one-step horizon. */
export function horizonsFor(table: HorizonTable, interval: string): readonly number[] {
  return table.get(interval) ?? [1];
}

/** Longest horizon in the table (how far ahead outcomes must be waited for). */
export function maxHorizon(table: HorizonTable): number {
  let m = 1;
  for (const hs of table.values()) for (const h of hs) m = Math.max(m, h);
  return m;
}

/** Why a horizons spec is not valid (for the config check), or null. */
export function horizonsProblem(spec: string): string | null {
  try {
    parseHorizons(spec);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message.replace(/^forecast horizons /, 'is not valid: ') : 'is not valid';
  }
}
