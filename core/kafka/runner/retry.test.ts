// The retry decision by what a failure means: a dependency down is waited out (never the DLQ),
// an unclassified failure gets maxAttempts, a bad record goes to the DLQ at once. The handler here
// is a function of the test (what fails is the point); Redis and Kafka outages for real are in
// test/integration/runner-outage.test.ts.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { createMetricsRegistry } from '../../metrics.js';
import type { InRecord } from '../records.js';
import { classifyFailure } from './classify.js';
import { createRunnerMetrics } from './metrics.js';
import { createRetryingHandler, type RecordControls } from './retry.js';
import { createDependencyWaits } from './waits.js';
import type { Failure } from './types.js';

const rec: InRecord = { topic: 't', partition: 0, offset: '7', key: null, value: Buffer.from('v'), timestamp: 0, headers: {} };

function setup(opts: { stillWaitingLogMs?: number } = {}) {
  const lines: { msg: string; level: number }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { msg: string; level: number });
      cb();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  const metrics = createRunnerMetrics(registry, 'g');
  const waits = createDependencyWaits({ metrics, logger, stillWaitingLogMs: opts.stillWaitingLogMs ?? 60_000 });
  const dead: Failure[] = [];
  const make = (handler: () => Promise<void>) =>
    createRetryingHandler({
      groupId: 'g',
      handler: async () => {
        await handler();
        return [{ topic: 'out', key: null, value: Buffer.from('ok') }];
      },
      deadLetter: async (_r, failure) => {
        dead.push(failure);
        return Promise.resolve({ topic: 'dlq', key: 't', value: Buffer.from('dead') });
      },
      maxAttempts: 3,
      retryBackoffMs: 1,
      dependencyBackoffMaxMs: 20,
      waits,
      metrics,
      logger,
    });
  return { lines, registry, waits, dead, make };
}

const running: RecordControls = { heartbeat: () => Promise.resolve(), isRunning: () => true, isStale: () => false };

async function metricValue(registry: ReturnType<typeof createMetricsRegistry>, name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  return (await m.get()).values.reduce((n, v) => n + v.value, 0);
}

describe('retrying handler: dependency outages are waited out, never dead-lettered', () => {
  it('keeps retrying a record while Redis is down (ioredis "Connection is closed.") far past maxAttempts, then produces its output; no DLQ record', async () => {
    const s = setup({ stillWaitingLogMs: 0 });
    let calls = 0;
    const seenWaiting: boolean[] = [];
    const handle = s.make(async () => {
      calls++;
      seenWaiting.push(s.waits.current() !== null);
      if (calls <= 12) throw new Error('Connection is closed.');
      return Promise.resolve();
    });
    const out = await handle(rec, running);
    expect(out?.map((o) => o.value?.toString())).toEqual(['ok']);
    expect(s.dead).toEqual([]);
    expect(calls).toBe(13);
    // Not waiting before the first failure, waiting during the outage, not after.
    expect(seenWaiting[0]).toBe(false);
    expect(seenWaiting.slice(1).every(Boolean)).toBe(true);
    expect(s.waits.current()).toBeNull();
    expect(await metricValue(s.registry, 'bitpredict_consumer_dependency_waits_total')).toBe(1);
    expect(await metricValue(s.registry, 'bitpredict_consumer_dependency_waiting')).toBe(0);
    expect(await metricValue(s.registry, 'bitpredict_consumer_dependency_wait_seconds_total')).toBeGreaterThan(0);
    const msgs = s.lines.map((l) => l.msg);
    expect(msgs[0]).toMatch(/a dependency is unavailable/);
    expect(msgs.at(-1)).toBe('dependency back; the partition resumes');
    expect(msgs).not.toContain('record sent to the DLQ');
  });

  it('logs a wait once when it starts and once when it ends, not per attempt', async () => {
    const s = setup({ stillWaitingLogMs: 60_000 });
    let calls = 0;
    const handle = s.make(async () => {
      if (++calls <= 8) throw new BitPredictError('ERR_REDIS_UNREACHABLE', 'Redis did not answer');
      return Promise.resolve();
    });
    await handle(rec, running);
    expect(s.lines.map((l) => l.msg)).toEqual([
      'a dependency is unavailable; holding the partition and retrying until it is back (readiness is false meanwhile)',
      'dependency back; the partition resumes',
    ]);
  });

  it('gives the record up (null: read it again later), without a DLQ record, when the consumer stops during the wait', async () => {
    const s = setup();
    let run = true;
    let calls = 0;
    const handle = s.make(async () => {
      if (++calls === 3) run = false;
      throw new BitPredictError('ERR_REGISTRY_UNREACHABLE', 'registry down');
    });
    const out = await handle(rec, { heartbeat: () => Promise.resolve(), isRunning: () => run, isStale: () => false });
    expect(out).toBeNull();
    expect(s.dead).toEqual([]);
    expect(s.waits.current()).toBeNull();
  });

  it('heartbeats while it waits, and a heartbeat refused by a rebalance ends the wait with that error', async () => {
    const s = setup();
    let beats = 0;
    const rebalance = new Error('rebalance');
    const handle = s.make(async () => {
      throw new BitPredictError('ERR_REDIS', 'OOM command not allowed');
    });
    await expect(
      handle(rec, {
        heartbeat: async () => {
          if (++beats === 4) throw rebalance;
          return Promise.resolve();
        },
        isRunning: () => true,
        isStale: () => false,
      }),
    ).rejects.toBe(rebalance);
    expect(s.dead).toEqual([]);
    expect(s.waits.current()).toBeNull();
  });

  it('still dead-letters a bad record at once, and an unclassified failure after maxAttempts', async () => {
    const s = setup();
    await s.make(async () => {
      throw new BitPredictError('ERR_VALIDATION', 'negative price');
    })(rec, running);
    await s.make(async () => {
      throw new TypeError('bug');
    })(rec, running);
    expect(s.dead.map((d) => [d.code, d.attempts])).toEqual([
      ['ERR_VALIDATION', 1],
      ['ERR_HANDLER', 3],
    ]);
  });
});

describe('classifyFailure', () => {
  it('calls Redis, registry and Kafka outages dependencies, and bad records permanent', () => {
    const kind = (e: unknown) => classifyFailure(e).kind;
    expect(kind(new BitPredictError('ERR_REDIS_UNREACHABLE', 'x'))).toBe('dependency');
    expect(kind(new BitPredictError('ERR_REDIS', 'x'))).toBe('dependency');
    expect(kind(new BitPredictError('ERR_REGISTRY_UNREACHABLE', 'x'))).toBe('dependency');
    expect(kind(new BitPredictError('ERR_KAFKA_RETRIABLE', 'x'))).toBe('dependency');
    // The registry answering 503 is the registry's fault; 422 is the request's.
    expect(kind(new BitPredictError('ERR_REGISTRY', 'x', { cause: Object.assign(new Error('503'), { status: 503 }) }))).toBe('dependency');
    expect(kind(new BitPredictError('ERR_REGISTRY', 'x', { cause: Object.assign(new Error('422'), { status: 422 }) }))).toBe('permanent');
    expect(kind(Object.assign(new Error('Reached the max retries per request limit (which is 3).'), { name: 'MaxRetriesPerRequestError' }))).toBe('dependency');
    expect(kind(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe('dependency');
    expect(kind(new Error('wrapped', { cause: new Error('Connection is closed.') }))).toBe('dependency');
    expect(kind(new BitPredictError('ERR_SERDE_UNKNOWN_SCHEMA', 'schema id 9 is not in the registry', { retryable: false }))).toBe('permanent');
    expect(kind(new BitPredictError('ERR_SERDE_DECODE', 'x'))).toBe('permanent');
    expect(kind(new BitPredictError('ERR_VALIDATION', 'x'))).toBe('permanent');
    expect(kind(new TypeError('bug'))).toBe('transient');
  });
});
