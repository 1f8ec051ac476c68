// What the restart-and-kill chaos scenarios (test/chaos/scenarios/{stack-restart,redis-restart,
// service-kills,exchange-drops}.test.ts) share: the scale they run at, a seeded random source whose
// seed is printed (a failing run is replayed with CHAOS_SEED), and counting lost and duplicated
// records by key against what should be there.
import { mulberry32 } from '../../core/random.js';

export type ChaosScale = 'ci' | 'full';

/** CHAOS_SCALE, read once: unset (plain `npm test`, what CI runs) is "ci"; `npm run test:chaos` sets "full". */
export function chaosScale(env: NodeJS.ProcessEnv = process.env): ChaosScale {
  const v = env.CHAOS_SCALE ?? 'ci';
  if (v !== 'ci' && v !== 'full') throw new Error(`CHAOS_SCALE must be "ci" or "full", got "${v}"`);
  return v;
}

/** The figure for the scale in use. */
export function atScale<T>(values: { ci: T; full: T }, env: NodeJS.ProcessEnv = process.env): T {
  return values[chaosScale(env)];
}

export interface SeededRandom {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
}

/** A seeded random source: CHAOS_SEED when set, else a fresh seed; the scenario prints it. */
export function seededRandom(scenario: string, env: NodeJS.ProcessEnv = process.env): SeededRandom {
  const seed = env.CHAOS_SEED !== undefined ? Number(env.CHAOS_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 31);
  process.stderr.write(`chaos ${scenario}: seed ${seed} (CHAOS_SEED=${seed} replays this run)\n`);
  const next = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return {
    seed,
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(0, items.length - 1)] as T;
    },
  };
}

export interface LossCount {
  /** Expected ids absent from what was read. */
  lost: number;
  /** Ids read more than once (each extra copy counts). */
  duplicated: number;
  /** Ids read that were never expected. */
  unexpected: number;
  /** A few examples of each, for the failure message. */
  examples: string[];
}

/** Compares the ids read from an output topic with the ids that must be there exactly once. */
export function countLoss(expected: Iterable<string>, got: readonly string[]): LossCount {
  const want = new Set(expected);
  const seen = new Map<string, number>();
  for (const id of got) seen.set(id, (seen.get(id) ?? 0) + 1);
  const examples: string[] = [];
  let lost = 0;
  let duplicated = 0;
  let unexpected = 0;
  for (const id of want) {
    if (!seen.has(id)) {
      lost++;
      if (examples.length < 10) examples.push(`lost ${id}`);
    }
  }
  for (const [id, n] of seen) {
    if (n > 1) {
      duplicated += n - 1;
      if (examples.length < 10) examples.push(`${n}x ${id}`);
    }
    if (!want.has(id)) {
      unexpected++;
      if (examples.length < 10) examples.push(`unexpected ${id}`);
    }
  }
  return { lost, duplicated, unexpected, examples };
}

const BASELINES = ['persistence', 'ewma', 'har-rv', 'garch'];

/**
 * The prediction ids (`eventTime|model`) a run over these feature event times must hold: none for
 * the first vector (no return yet), then the warm-up persistence forecast alone until the
 * baselines' first fit, then all four baselines for every vector. Where the first fit falls
 * depends only on the inputs; it is taken from what was read (the first time with more than one
 * model), so a missing prediction after it, or a missing time anywhere, counts as lost.
 */
export function expectedPredictionIds(featureTimes: readonly number[], got: readonly string[]): string[] {
  const models = new Map<number, number>();
  for (const id of new Set(got)) {
    const t = Number(id.slice(0, id.indexOf('|')));
    models.set(t, (models.get(t) ?? 0) + 1);
  }
  const sorted = [...featureTimes].sort((a, b) => a - b);
  const firstFit = sorted.find((t) => (models.get(t) ?? 0) > 1) ?? Number.POSITIVE_INFINITY;
  return sorted.slice(1).flatMap((t) => (t < firstFit ? [`${t}|persistence`] : BASELINES.map((m) => `${t}|${m}`)));
}
