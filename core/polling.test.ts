import { describe, expect, it } from 'vitest';
import { createPoller, type PollerDeps, type SourceState } from './polling.js';

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fakes(over: Partial<PollerDeps> = {}): { deps: PollerDeps; rounds: () => number; seeds: () => number; starts: () => number } {
  let rounds = 0;
  let seeds = 0;
  let starts = 0;
  const deps: PollerDeps = {
    now: () => 1000,
    backoff: (failures, serverWaitMs) => Math.max(100 * 2 ** (failures - 1), serverWaitMs ?? 0),
    seed: async () => {
      seeds++;
    },
    onStart: () => {
      starts++;
    },
    round: async () => {
      rounds++;
      return 3_600_000;
    },
    onRoundError: () => 3_600_000,
    ...over,
  };
  return { deps, rounds: () => rounds, seeds: () => seeds, starts: () => starts };
}

describe('createPoller', () => {
  it('seeds once, then runs the first round; start and seed are idempotent', async () => {
    const f = fakes();
    const p = createPoller(f.deps);
    await Promise.all([p.start(), p.start(), p.seed()]);
    await p.start();
    await tick();
    expect([f.seeds(), f.starts(), f.rounds()]).toEqual([1, 1, 1]);
    await p.stop();
  });

  it('runs rounds after the wait each round returns, and none after stop', async () => {
    const f = fakes();
    let n = 0;
    const p = createPoller({ ...f.deps, round: async () => (++n < 3 ? 5 : 3_600_000) });
    await p.start();
    await tick(100);
    expect(n).toBe(3);
    await p.stop();
    await tick(50);
    expect(n).toBe(3);
  });

  it('stop cuts a long wait short and waits for the round in progress', async () => {
    const f = fakes();
    const gate = deferred();
    let inRound = false;
    const p = createPoller({
      ...f.deps,
      round: async () => {
        inRound = true;
        await gate.promise;
        inRound = false;
        return 3_600_000;
      },
    });
    await p.start();
    await tick();
    expect(inRound).toBe(true);
    let stopped = false;
    const stopping = p.stop().then(() => {
      stopped = true;
    });
    await tick();
    expect(stopped).toBe(false);
    expect(p.signal.aborted).toBe(true);
    gate.resolve();
    await stopping;
    expect(inRound).toBe(false);
  });

  it('never overlaps a scheduled round with a direct poll', async () => {
    const f = fakes();
    const log: string[] = [];
    const gate = deferred();
    const p = createPoller({
      ...f.deps,
      round: async () => {
        log.push('round');
        return 3_600_000;
      },
    });
    const direct = p.exclusive(async () => {
      log.push('direct start');
      await gate.promise;
      log.push('direct end');
      return 7;
    });
    await p.start();
    await tick();
    expect(log).toEqual(['direct start']);
    gate.resolve();
    expect(await direct).toBe(7);
    await tick();
    expect(log).toEqual(['direct start', 'direct end', 'round']);
    // A failed task does not block the next one.
    await expect(p.exclusive(async () => Promise.reject(new Error('boom')))).rejects.toThrowError('boom');
    expect(await p.exclusive(async () => 'after')).toBe('after');
    await p.stop();
  });

  it('with schedule off, only direct polls run', async () => {
    const f = fakes({ schedule: false });
    const p = createPoller(f.deps);
    await p.start();
    await tick();
    expect([f.seeds(), f.starts(), f.rounds()]).toEqual([1, 1, 0]);
    expect(p.readiness({}).ready).toBe(true);
    await p.stop();
    expect(p.readiness({}).ready).toBe(false);
  });

  it('keeps per-source failures, next time and last result with the backoff', () => {
    let clock = 5000;
    const p = createPoller({ ...fakes().deps, now: () => clock });
    const s: SourceState<'ok' | 'down'> = { failures: 0, nextAt: 0, lastResult: null };
    expect(p.failed(s, 'down')).toBe(100);
    expect(s).toEqual({ failures: 1, nextAt: 5100, lastResult: 'down' });
    clock = 6000;
    expect(p.failed(s, 'down')).toBe(200);
    expect(p.failed(s, 'down', 10_000)).toBe(10_000);
    expect(s).toEqual({ failures: 3, nextAt: 16_000, lastResult: 'down' });
    p.succeeded(s, 'ok', 0);
    expect(s).toEqual({ failures: 0, nextAt: 0, lastResult: 'ok' });
    s.nextAt = 42;
    p.succeeded(s, 'ok');
    expect(s.nextAt).toBe(42);
  });

  it('goes on after a round error with the wait the handler returns, or halts', async () => {
    let rounds = 0;
    const errors: unknown[] = [];
    const p = createPoller({
      ...fakes().deps,
      round: async () => {
        rounds++;
        throw new Error(`round ${rounds}`);
      },
      onRoundError: (err) => {
        errors.push(err);
        if (rounds === 2) p.halt();
        return 5;
      },
    });
    await p.start();
    expect(p.readiness({}).ready).toBe(true);
    await tick(100);
    expect(rounds).toBe(2);
    expect(errors.map((e) => (e as Error).message)).toEqual(['round 1', 'round 2']);
    expect(p.stopped).toBe(true);
    expect(p.readiness({ a: 'ok' })).toEqual({ ready: false, checks: { a: 'ok' } });
    await p.stop();
  });

  it('is ready only once seeded and until stopped; a failed seed leaves it unready', async () => {
    const gate = deferred();
    const p = createPoller({ ...fakes().deps, seed: () => gate.promise });
    const starting = p.start();
    expect(p.readiness({}).ready).toBe(false);
    gate.resolve();
    await starting;
    expect(p.readiness({}).ready).toBe(true);
    await p.stop();
    await p.stop();
    expect(p.readiness({}).ready).toBe(false);

    const broken = createPoller({ ...fakes().deps, seed: async () => Promise.reject(new Error('no broker')) });
    await expect(broken.start()).rejects.toThrowError('no broker');
    await expect(broken.start()).rejects.toThrowError('no broker');
    expect(broken.readiness({}).ready).toBe(false);
  });

  it('stop before the seed finishes means no round at all', async () => {
    const gate = deferred();
    const f = fakes();
    const p = createPoller({ ...f.deps, seed: () => gate.promise });
    const starting = p.start();
    const stopping = p.stop();
    gate.resolve();
    await Promise.all([starting, stopping]);
    await tick();
    expect(f.rounds()).toBe(0);
    expect(p.readiness({}).ready).toBe(false);
  });
});
