// The startup retry with a fake clock and sleep: which errors are retried, the backoff schedule,
// the deadline, shutdown while waiting, and what /readyz says meanwhile.
import { describe, expect, it } from 'vitest';
import { BitPredictError } from './errors.js';
import { createLogger } from './logger.js';
import { createStartupRetry, STARTUP_BACKOFF, StartupAborted } from './startup.js';

const unreachable = (): BitPredictError => new BitPredictError('ERR_KAFKA_UNREACHABLE', 'no Kafka broker answered at kafka:9092');

function harness(opts: { maxMs?: number; random?: () => number } = {}) {
  let clock = 0;
  const waits: number[] = [];
  const lines: { level: number; msg: string; nextDelayMs?: number; attempt?: number }[] = [];
  const logger = createLogger({ level: 'info', name: 'test', destination: { write: (l: string) => void lines.push(JSON.parse(l) as (typeof lines)[number]) } });
  const retry = createStartupRetry({
    logger,
    maxMs: opts.maxMs ?? 0,
    random: opts.random ?? (() => 0),
    now: () => clock,
    sleep: (ms) => {
      waits.push(ms);
      clock += ms;
      return Promise.resolve();
    },
  });
  return { retry, waits, lines, advance: (ms: number) => (clock += ms) };
}

/** An attempt that fails `n` times with `err`, then returns 'connected'. */
function failing(n: number, err: () => Error = unreachable) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    attempt: () => {
      calls++;
      return calls <= n ? Promise.reject(err()) : Promise.resolve('connected');
    },
  };
}

describe('startup retry', () => {
  it('retries a retryable failure with capped exponential backoff: 1 s doubling to 30 s', async () => {
    const h = harness();
    const a = failing(8);
    await expect(h.retry.run('Kafka', a.attempt)).resolves.toBe('connected');
    expect(a.calls).toBe(9);
    expect(h.waits).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('jitters by up to half, so that pods restarted together spread out', async () => {
    const h = harness({ random: () => 0.5 });
    await h.retry.run('Kafka', failing(7).attempt);
    expect(h.waits).toEqual([750, 1500, 3000, 6000, 12000, 22500, 22500]);
    expect(STARTUP_BACKOFF).toMatchObject({ baseMs: 1000, maxMs: 30000, jitter: 'half' });
  });

  it('logs each failed attempt at warn with the attempt and the next delay', async () => {
    const h = harness();
    await h.retry.run('Kafka', failing(2).attempt);
    const warns = h.lines.filter((l) => l.level === 40);
    expect(warns.map((l) => [l.attempt, l.nextDelayMs, l.msg])).toEqual([
      [1, 1000, 'cannot connect to Kafka; retrying in 1 s'],
      [2, 2000, 'cannot connect to Kafka; retrying in 2 s'],
    ]);
    expect(h.lines.some((l) => l.msg === 'connected after retrying')).toBe(true);
  });

  it('fails at once on an error that waiting cannot fix (not retryable, or not ours)', async () => {
    const auth = harness();
    const bad = failing(1, () => new BitPredictError('ERR_KAFKA_AUTH', 'wrong password'));
    await expect(auth.retry.run('Kafka', bad.attempt)).rejects.toMatchObject({ code: 'ERR_KAFKA_AUTH' });
    expect(bad.calls).toBe(1);
    const bug = harness();
    await expect(bug.retry.run('Kafka', failing(1, () => new TypeError('bug')).attempt)).rejects.toThrow(TypeError);
    expect(bug.waits).toEqual([]);
  });

  it('gives up with the last error when the next attempt would start after the deadline', async () => {
    const h = harness({ maxMs: 10_000 });
    const a = failing(100);
    await expect(h.retry.run('Kafka', a.attempt)).rejects.toMatchObject({ code: 'ERR_KAFKA_UNREACHABLE' });
    // 1 + 2 + 4 = 7 s waited; the next wait (8 s) would end past 10 s.
    expect(h.waits).toEqual([1000, 2000, 4000]);
    expect(a.calls).toBe(4);
    expect(h.lines.some((l) => l.level === 50 && /giving up/.test(l.msg))).toBe(true);
  });

  it('the deadline is shared by the steps: time spent on Kafka counts for Redis', async () => {
    const h = harness({ maxMs: 10_000 });
    await h.retry.run('Kafka', failing(3).attempt);
    await expect(h.retry.run('Redis', failing(100).attempt)).rejects.toMatchObject({ code: 'ERR_KAFKA_UNREACHABLE' });
    // 7 s spent on Kafka; Redis's own schedule starts again at 1 s and stops at the 10 s mark.
    expect(h.waits).toEqual([1000, 2000, 4000, 1000, 2000]);
  });

  it('says on /readyz what it waits for and why, not ready', async () => {
    const h = harness();
    expect(h.retry.readiness()).toEqual({ ready: false, checks: { startup: 'connecting to starting' } });
    let reportDuringSecond: unknown = null;
    let calls = 0;
    await h.retry.run('Kafka and the schema registry', () => {
      calls++;
      if (calls === 2) reportDuringSecond = h.retry.readiness();
      return calls < 3 ? Promise.reject(unreachable()) : Promise.resolve(null);
    });
    expect(reportDuringSecond).toEqual({
      ready: false,
      checks: {
        startup: 'connecting to Kafka and the schema registry: attempt 2 in progress',
        lastError: 'ERR_KAFKA_UNREACHABLE: no Kafka broker answered at kafka:9092',
      },
    });
  });

  it('reports the wait while waiting', async () => {
    let seen: unknown = null;
    const logger = createLogger({ level: 'silent' });
    const retry = createStartupRetry({
      logger,
      maxMs: 0,
      random: () => 0,
      sleep: () => {
        seen = retry.readiness();
        return Promise.resolve();
      },
    });
    await expect(retry.run('Redis', failing(1, () => new BitPredictError('ERR_REDIS_UNREACHABLE', 'Redis did not answer')).attempt)).resolves.toBe('connected');
    expect(seen).toEqual({
      ready: false,
      checks: { startup: 'connecting to Redis: attempt 1 failed; next in 1 s', lastError: 'ERR_REDIS_UNREACHABLE: Redis did not answer' },
    });
  });

  it('abort() ends a wait or an attempt in flight with StartupAborted, and releases a late success', async () => {
    const logger = createLogger({ level: 'silent' });
    const retry = createStartupRetry({ logger, maxMs: 0 });
    let resolveAttempt: (v: string) => void = () => {};
    const disposed: string[] = [];
    const run = retry.run(
      'Redis',
      () => new Promise<string>((r) => (resolveAttempt = r)),
      (v) => disposed.push(v),
    );
    retry.abort();
    await expect(run).rejects.toBeInstanceOf(StartupAborted);
    expect(retry.aborted).toBe(true);
    resolveAttempt('late client');
    await Promise.resolve();
    await Promise.resolve();
    expect(disposed).toEqual(['late client']);
    await expect(retry.run('Kafka', () => Promise.resolve(1))).rejects.toBeInstanceOf(StartupAborted);
  });
});
