// The consumer runner's retry contract: a retryable failure is retried up to maxAttempts and then
// dead-lettered with the attempt count; a failure that heals within the attempts produces output
// and no DLQ record; records after a failing one are still processed, in order.
import { describe, expect, it } from 'vitest';
import { createTestPlatform, uniqueId, waitFor, type TestPlatform } from '../helpers/platform.js';
import { createConsumerRunner } from '../../core/kafka/consumer.js';
import { createDeadLetterFactory } from '../../core/kafka/dlq.js';
import { createProducer } from '../../core/kafka/producer.js';
import { BitPredictError } from '../../core/errors.js';

describe('consumer runner retries and dead-letters', () => {
  it.each(['at-least-once', 'exactly-once'] as const)('%s: bounded retries, then DLQ; the partition keeps moving', async (mode) => {
    const tp: TestPlatform = await createTestPlatform(`runner-${mode}`);
    const producer = await createProducer(tp.platform.kafka);
    const input = tp.topic('textRaw');
    const output = tp.topic('textScored');
    const attempts = new Map<string, number>();
    const handled: string[] = [];
    const groupId = uniqueId(`runner-${mode}`);
    const { createTransactionalProducer } = await import('../../core/kafka/producer.js');
    const tx = mode === 'exactly-once' ? await createTransactionalProducer(tp.platform.kafka, groupId) : null;
    const runner = createConsumerRunner({
      client: tp.platform.kafka,
      groupId,
      topics: [input],
      handler: async (rec) => {
        const v = rec.value?.toString() ?? '';
        attempts.set(v, (attempts.get(v) ?? 0) + 1);
        if (v === 'always-fails') throw new Error('boom');
        if (v === 'not-retryable') throw new BitPredictError('ERR_VALIDATION', 'bad field');
        if (v === 'heals' && attempts.get(v) === 1) throw new BitPredictError('ERR_REDIS_UNREACHABLE', 'blip');
        handled.push(v);
        return [{ topic: output, key: 'k', value: Buffer.from(`out:${v}`) }];
      },
      deadLetter: createDeadLetterFactory({ serde: tp.platform.serde, topicPrefix: tp.prefix }),
      delivery: tx ? { kind: 'transactional', producerFor: async () => tx } : { kind: 'at-least-once', producer },
      logger: tp.logger,
      registry: tp.platform.registry,
      maxAttempts: 3,
      retryBackoffMs: 5,
      onFatal: (e) => {
        throw e;
      },
    });
    await runner.start();
    const values = ['a', 'always-fails', 'b', 'not-retryable', 'heals', 'c'];
    await producer.send(values.map((v) => ({ topic: input, key: 'k', value: Buffer.from(v) })));
    await waitFor(() => handled.includes('c'), 'the last record to be handled');
    await waitFor(async () => (await tp.admin.groupLag(groupId, input)).every((p) => p.lag === 0), 'offsets to be committed');
    await runner.stop();
    await tx?.close();
    await producer.close();
    expect(handled).toEqual(['a', 'b', 'heals', 'c']);
    expect(attempts.get('always-fails')).toBe(3);
    expect(attempts.get('not-retryable')).toBe(1);
    expect(attempts.get('heals')).toBe(2);
    const dlq = (await tp.readAll('dlq')).filter((d) => d.value?.consumerGroup === groupId);
    expect(dlq.map((d) => [d.value?.value?.toString(), d.value?.errorCode, d.value?.attempts])).toEqual([
      ['always-fails', 'ERR_HANDLER', 3],
      ['not-retryable', 'ERR_VALIDATION', 1],
    ]);
    const out = await tp.readAll('textScored').catch(() => []);
    expect(out.map((o) => o.raw?.toString())).toEqual(['out:a', 'out:b', 'out:heals', 'out:c']);
    await tp.cleanup();
  });

  it('exactly-once: a transactional id taken over mid-stream costs the partition its state, not the process; it takes the partition back from the committed offset and loses nothing', async () => {
    const tp: TestPlatform = await createTestPlatform('runner-fenced');
    const { createDelivery, transactionalIdFor } = await import('../../core/kafka/delivery.js');
    const { createTransactionalProducer } = await import('../../core/kafka/producer.js');
    const producer = await createProducer(tp.platform.kafka);
    const input = tp.topic('textRaw');
    const output = tp.topic('textScored');
    const groupId = uniqueId('runner-fenced');
    const prefix = uniqueId('fenced');
    const delivery = await createDelivery(tp.platform.kafka, 'exactly-once', prefix);
    const handled: string[] = [];
    const fatal: unknown[] = [];
    const runner = createConsumerRunner({
      client: tp.platform.kafka,
      groupId,
      topics: [input],
      handler: async (rec) => {
        const v = rec.value?.toString() ?? '';
        handled.push(v);
        return [{ topic: output, key: 'k', value: Buffer.from(`out:${v}`) }];
      },
      deadLetter: createDeadLetterFactory({ serde: tp.platform.serde, topicPrefix: tp.prefix }),
      delivery: delivery.mode,
      logger: tp.logger,
      registry: tp.platform.registry,
      maxAttempts: 3,
      retryBackoffMs: 5,
      onFatal: (e) => {
        fatal.push(e);
      },
    });
    await runner.start();
    await producer.send([{ topic: input, key: 'k', value: Buffer.from('a') }]);
    await waitFor(async () => (await tp.admin.groupLag(groupId, input)).every((p) => p.lag === 0) && handled.includes('a'), 'a to be committed');
    const partition = (await tp.admin.groupLag(groupId, input)).find((p) => p.committed !== '-1')!.partition;
    // Another instance takes the partition's transactional id: the runner's next flush is fenced.
    const intruder = await createTransactionalProducer(tp.platform.kafka, transactionalIdFor(prefix, input, partition));
    await producer.send([{ topic: input, key: 'k', value: Buffer.from('b') }]);
    await waitFor(
      async () => (await tp.admin.groupLag(groupId, input)).every((p) => p.lag === 0) && handled.includes('b'),
      'b to be committed after the takeover back',
    );
    await producer.send([{ topic: input, key: 'k', value: Buffer.from('c') }]);
    await waitFor(async () => (await tp.admin.groupLag(groupId, input)).every((p) => p.lag === 0) && handled.includes('c'), 'c to be committed');
    // The runner took the id back, so the intruder is the zombie now.
    await expect(intruder.sendWithOffsets([{ topic: output, key: 'k', value: Buffer.from('zombie') }], [])).rejects.toMatchObject({ code: 'ERR_KAFKA_FENCED' });
    await intruder.close().catch(() => undefined);
    await runner.stop();
    await delivery.close();
    await producer.close();
    expect(fatal).toEqual([]);
    // b was handled twice (the fenced flush, then again after the takeover), its output committed once.
    expect(handled.filter((v) => v === 'b').length).toBeGreaterThanOrEqual(2);
    const out = await tp.readAll('textScored');
    expect(out.map((o) => o.raw?.toString())).toEqual(['out:a', 'out:b', 'out:c']);
    await tp.cleanup();
  });
});
