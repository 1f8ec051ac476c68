// The batch handler's answer to a flush or takeover that fails: an outage (Kafka or another
// dependency away) gives the partition up and reads it again from where Kafka stands, with
// readiness false meanwhile; anything else stops the process. Delivery, takeover and the consumer
// are functions of the test (what fails is the point); real broker faults are in the chaos suite
// (test/chaos/scenarios/brokers.test.ts, stack-restart.test.ts).
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { createMetricsRegistry } from '../../metrics.js';
import { createKafkaClient } from '../client.js';
import type { BatchControls, DriverBatch } from '../driver.js';
import type { InRecord } from '../records.js';
import type { OutRecord } from '../producer.js';
import { createBatchHandler } from './batch.js';
import { createFlusher } from './flush.js';
import { createRunnerMetrics } from './metrics.js';
import { createRebalanceTracker } from './rebalance.js';
import { createDependencyHold, createDependencyWaits } from './waits.js';
import type { DeliveryMode } from './types.js';

const logger = createLogger({ level: 'silent' });
// Never connects: errors that are BitPredictErrors already pass through its mapping unchanged.
const client = createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'batch-test' }, logger);

const rec = (offset: number): InRecord => ({
  topic: 'in',
  partition: 0,
  offset: String(offset),
  key: null,
  value: Buffer.from(String(offset)),
  timestamp: 0,
  headers: {},
});
const batchOf = (first: number, n: number): DriverBatch => ({
  topic: 'in',
  partition: 0,
  records: Array.from({ length: n }, (_, i) => rec(first + i)),
  firstOffset: String(first),
  lastOffset: String(first + n - 1),
  highWatermark: String(first + n),
});

function setup(opts: { kind: 'transactional' | 'at-least-once'; failures: (Error | null)[]; takeoverFailures?: Error[] }) {
  const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  const metrics = createRunnerMetrics(registry, 'g');
  const waits = createDependencyWaits({ metrics, logger, stillWaitingLogMs: 60_000 });
  const tracker = createRebalanceTracker(undefined);
  tracker.assign({ in: [0] });
  const sent: { records: OutRecord[]; offset: string | null }[] = [];
  const seeks: string[] = [];
  const discarded: string[] = [];
  const fatal: BitPredictError[] = [];
  const takeovers: string[] = [];
  const failures = [...opts.failures];
  const takeoverFailures = [...(opts.takeoverFailures ?? [])];
  const send = async (records: OutRecord[], offset: string | null): Promise<void> => {
    const f = failures.shift();
    if (f) throw f;
    sent.push({ records: [...records], offset });
  };
  const delivery: DeliveryMode =
    opts.kind === 'transactional'
      ? {
          kind: 'transactional',
          producerFor: async () => ({
            sendWithOffsets: async (records, offsets) => send(records, offsets[0]?.offset ?? null),
            close: async () => undefined,
          }),
          discard: async (topic, partition) => {
            discarded.push(`${topic}:${partition}`);
          },
        }
      : { kind: 'at-least-once', producer: { send: async (records) => send(records, null), close: async () => undefined } };
  const flusher = createFlusher({
    groupId: 'g',
    delivery,
    hooks: undefined,
    consumer: { commitOffsets: async () => undefined },
    commitIntervalMs: 1000,
    metrics,
    logger,
    hold: createDependencyHold({ waits, metrics, policy: { baseMs: 1, maxMs: 1 } }),
  });
  const eachBatch = createBatchHandler({
    client,
    hooks: undefined,
    tracker,
    takeover: {
      takeOver: async (_t, _p, fetched) => {
        takeovers.push(fetched);
        const f = takeoverFailures.shift();
        if (f) throw f;
        return true;
      },
      close: async () => undefined,
    },
    flusher,
    handle: async (r) => [{ topic: 'out', key: null, value: r.value }],
    metrics,
    logger,
    flushEvery: 2,
    maxFlushBytes: 1_000_000,
    prepareBatch: undefined,
    reportFatal: (e) => fatal.push(e),
    discardProducer: async (topic, partition) => {
      if (delivery.kind === 'transactional') await delivery.discard?.(topic, partition);
    },
    seek: (_t, _p, offset) => seeks.push(offset),
    waits,
    outageBackoff: { baseMs: 5, maxMs: 20 },
  });
  const controls: BatchControls = {
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
    resolveOffset: () => undefined,
    commitOffsetsIfNecessary: async () => undefined,
  };
  return { eachBatch, controls, sent, seeks, discarded, fatal, takeovers, waits, tracker };
}

const coordinatorGone = () => new BitPredictError('ERR_KAFKA_RETRIABLE', 'This is not the correct coordinator for this group (gave up after 5 retries)');
const unreachable = () => new BitPredictError('ERR_KAFKA_UNREACHABLE', 'no Kafka broker answered at 127.0.0.1:9092');

describe('batch handler: an outage during a flush or takeover', () => {
  it('exactly once: drops the partition (producer discarded, taken over anew), seeks back to what was committed, readiness false until a flush goes through; never fatal', async () => {
    const s = setup({ kind: 'transactional', failures: [null, coordinatorGone()] });
    // Offsets 10..13 in chunks of 2: 10-11 commit, 12-13 fail at commit time.
    await s.eachBatch(batchOf(10, 4), s.controls);
    expect(s.fatal).toEqual([]);
    expect(s.sent.map((x) => x.offset)).toEqual(['12']);
    expect(s.discarded).toEqual(['in:0']);
    expect(s.seeks).toEqual(['12']);
    expect(s.waits.current()).toMatchObject({ code: 'ERR_KAFKA_RETRIABLE', partitions: ['in:0'] });
    // The next batch (from the seek) takes the partition over again, then flushes: the wait ends.
    await s.eachBatch(batchOf(12, 2), s.controls);
    expect(s.takeovers).toEqual(['10', '12']);
    expect(s.sent.map((x) => x.offset)).toEqual(['12', '14']);
    expect(s.waits.current()).toBeNull();
    expect(s.fatal).toEqual([]);
  });

  it('exactly once: a takeover that cannot reach the coordinator is retried from the same offset, not fatal', async () => {
    const s = setup({ kind: 'transactional', failures: [], takeoverFailures: [unreachable(), unreachable()] });
    await s.eachBatch(batchOf(0, 2), s.controls);
    await s.eachBatch(batchOf(0, 2), s.controls);
    expect(s.sent).toEqual([]);
    expect(s.seeks).toEqual(['0', '0']);
    expect(s.waits.current()).toMatchObject({ code: 'ERR_KAFKA_UNREACHABLE' });
    await s.eachBatch(batchOf(0, 2), s.controls);
    expect(s.takeovers).toEqual(['0', '0', '0']);
    expect(s.sent.map((x) => x.offset)).toEqual(['2']);
    expect(s.waits.current()).toBeNull();
    expect(s.fatal).toEqual([]);
  });

  it('at least once: resumes after the last flush that went through', async () => {
    const s = setup({ kind: 'at-least-once', failures: [null, null, unreachable()] });
    await s.eachBatch(batchOf(0, 6), s.controls);
    expect(s.sent).toHaveLength(2);
    expect(s.seeks).toEqual(['4']);
    expect(s.fatal).toEqual([]);
  });

  it('a failure that is not an outage still stops the process', async () => {
    const tooLarge = new BitPredictError('ERR_KAFKA', 'The request included a message larger than the max message size the server will accept');
    const s = setup({ kind: 'transactional', failures: [tooLarge] });
    await expect(s.eachBatch(batchOf(0, 2), s.controls)).rejects.toThrow(/larger than the max message size/);
    expect(s.fatal.map((e) => e.code)).toEqual(['ERR_KAFKA']);
    expect(s.seeks).toEqual([]);
    const fenced = setup({ kind: 'transactional', failures: [], takeoverFailures: [new BitPredictError('ERR_KAFKA_ACL', 'denied')] });
    await expect(fenced.eachBatch(batchOf(0, 2), fenced.controls)).rejects.toThrow(/denied/);
    expect(fenced.fatal.map((e) => e.code)).toEqual(['ERR_KAFKA_ACL']);
  });

  it('a revoked partition ends its wait at the next join', async () => {
    const s = setup({ kind: 'transactional', failures: [unreachable()] });
    await s.eachBatch(batchOf(0, 2), s.controls);
    expect(s.waits.current()).not.toBeNull();
    s.waits.retain(s.tracker.assign({ in: [1] }));
    expect(s.waits.current()).toBeNull();
  });
});
