import type { EachBatchPayload, Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../../errors.js';
import type { DriverConsumerOptions } from '../../driver.js';
import { createKafkaJsConsumer } from './consumer.js';

type RunOptions = { autoCommit: boolean; autoCommitInterval: number | null; eachBatch(p: EachBatchPayload): Promise<void> };

/** A stand-in for kafkajs' consumer: records run() options, commits and calls, and hands out batches on demand. */
function fakeKafka() {
  const calls: string[] = [];
  const commits: unknown[] = [];
  const listeners = new Map<string, () => void>();
  let run: RunOptions | undefined;
  const consumer = {
    events: { GROUP_JOIN: 'join', CRASH: 'crash', START_BATCH_PROCESS: 'start', END_BATCH_PROCESS: 'end' },
    on: (event: string, fn: () => void) => void listeners.set(event, fn),
    connect: async () => void calls.push('connect'),
    subscribe: async () => void calls.push('subscribe'),
    run: async (o: RunOptions) => {
      run = o;
    },
    disconnect: async () => void calls.push('disconnect'),
    commitOffsets: async (offsets: unknown) => {
      calls.push('commitOffsets');
      commits.push(offsets);
    },
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  return {
    kafka,
    calls,
    commits,
    join: () => listeners.get('join')?.(),
    runOptions: () => run!,
    /** Delivers one batch of offsets 10 and 11 with the given state of the consumer. */
    async deliver(o: { running: boolean; heartbeatError?: Error }): Promise<{ payloadCommits: unknown[]; error?: unknown }> {
      const payloadCommits: unknown[] = [];
      const resolved: string[] = [];
      const payload = {
        batch: {
          topic: 't',
          partition: 0,
          highWatermark: '12',
          messages: [10, 11].map((o) => ({ offset: String(o), key: null, value: Buffer.from('v'), timestamp: '0', headers: {} })),
          firstOffset: () => '10',
          lastOffset: () => '11',
        },
        heartbeat: async () => {
          if (o.heartbeatError) throw o.heartbeatError;
        },
        isRunning: () => o.running,
        isStale: () => false,
        resolveOffset: (offset: string) => void resolved.push(offset),
        commitOffsetsIfNecessary: async (offsets?: unknown) => void payloadCommits.push(offsets ?? 'if-necessary'),
        uncommittedOffsets: () => ({ topics: [{ topic: 't', partitions: resolved.map((x) => ({ partition: 0, offset: String(BigInt(x) + 1n) })) }] }),
      } as unknown as EachBatchPayload;
      try {
        await run!.eachBatch(payload);
        return { payloadCommits };
      } catch (error) {
        return { payloadCommits, error };
      }
    },
  };
}

const toError = (err: unknown) => (err instanceof BitPredictError ? err : new BitPredictError('ERR_KAFKA', String(err)));

function options(autoCommitIntervalMs: number | null, eachBatch: DriverConsumerOptions['eachBatch']): DriverConsumerOptions {
  return {
    groupId: 'g',
    topics: ['t'],
    fromBeginning: true,
    sessionTimeoutMs: 30000,
    heartbeatIntervalMs: 3000,
    maxWaitMs: 500,
    autoCommitIntervalMs,
    eachBatch,
  };
}

describe('the kafkajs consumer with auto-commit', () => {
  it("turns kafkajs' per-batch autoCommit off but keeps the interval for commitOffsetsIfNecessary", async () => {
    const f = fakeKafka();
    await createKafkaJsConsumer(
      f.kafka,
      options(1000, async () => {}),
      toError,
    ).start();
    expect(f.runOptions().autoCommit).toBe(false);
    expect(f.runOptions().autoCommitInterval).toBe(1000);
  });

  it('commits nothing at the end of a batch while running, only when the interval asks', async () => {
    const f = fakeKafka();
    const c = createKafkaJsConsumer(
      f.kafka,
      options(1000, async (batch, controls) => {
        for (const r of batch.records) controls.resolveOffset(r.offset);
        await controls.commitOffsetsIfNecessary();
      }),
      toError,
    );
    await c.start();
    const { payloadCommits } = await f.deliver({ running: true });
    expect(payloadCommits).toEqual(['if-necessary']);
    expect(f.commits).toEqual([]);
  });

  it("commits the batch's resolved offsets when the consumer stops while it is in hand", async () => {
    const f = fakeKafka();
    await createKafkaJsConsumer(
      f.kafka,
      options(1000, async (batch, controls) => controls.resolveOffset(batch.records.at(-1)!.offset)),
      toError,
    ).start();
    const { payloadCommits } = await f.deliver({ running: false });
    expect(payloadCommits).toEqual([{ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '12' }] }] }]);
  });

  it('commits the resolved offsets before rethrowing a heartbeat refused by a rebalance, unchanged', async () => {
    const f = fakeKafka();
    const rebalance = Object.assign(new Error('rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    await createKafkaJsConsumer(
      f.kafka,
      options(1000, async (batch, controls) => {
        controls.resolveOffset(batch.records[0]!.offset);
        await controls.heartbeat();
      }),
      toError,
    ).start();
    const { payloadCommits, error } = await f.deliver({ running: true, heartbeatError: rebalance });
    expect(error).toBe(rebalance);
    expect(payloadCommits).toEqual([{ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '11' }] }] }]);
  });

  it('stop() commits the offsets resolved since the last join before leaving the group', async () => {
    const f = fakeKafka();
    const c = createKafkaJsConsumer(
      f.kafka,
      options(1000, async (batch, controls) => controls.resolveOffset(batch.records.at(-1)!.offset)),
      toError,
    );
    await c.start();
    await f.deliver({ running: true });
    await c.stop();
    expect(f.commits).toEqual([[{ topic: 't', partition: 0, offset: '12' }]]);
    expect(f.calls.slice(-2)).toEqual(['commitOffsets', 'disconnect']);
  });

  it('forgets resolved offsets at a group join: the partitions may belong to another member now', async () => {
    const f = fakeKafka();
    const c = createKafkaJsConsumer(
      f.kafka,
      options(1000, async (batch, controls) => controls.resolveOffset(batch.records.at(-1)!.offset)),
      toError,
    );
    await c.start();
    await f.deliver({ running: true });
    f.join();
    await c.stop();
    expect(f.commits).toEqual([]);
  });

  it('without auto-commit, leaves commits to the caller', async () => {
    const f = fakeKafka();
    const c = createKafkaJsConsumer(
      f.kafka,
      options(null, async (batch, controls) => controls.resolveOffset(batch.records.at(-1)!.offset)),
      toError,
    );
    await c.start();
    const { payloadCommits } = await f.deliver({ running: false });
    await c.stop();
    expect(payloadCommits).toEqual([]);
    expect(f.commits).toEqual([]);
  });
});
