// readTail: the last records of every partition, the basis of dedupe on restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { createProducer } from '../../core/kafka/producer.js';
import { readTail } from '../../core/kafka/tail.js';

describe('readTail', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await createTestPlatform('tail');
  });
  afterAll(async () => {
    await tp?.cleanup();
  });

  it('returns nothing for an empty topic', async () => {
    expect(await readTail(tp.platform.kafka, tp.topic('trades'))).toEqual([]);
  });

  it('returns the last records of each partition, in offset order, including each key\'s last record', async () => {
    const producer = await createProducer(tp.platform.kafka);
    const topic = tp.topic('textRaw');
    const keys = ['a', 'b', 'c', 'd'];
    const records = Array.from({ length: 200 }, (_, i) => ({ topic, key: keys[i % 4] as string, value: Buffer.from(String(i)) }));
    await producer.send(records);
    await producer.close();
    const tail = await readTail(tp.platform.kafka, topic, { perPartition: 20 });
    const byPartition = new Map<number, string[]>();
    for (const r of tail) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.value?.toString() ?? '']);
    for (const values of byPartition.values()) {
      expect(values.length).toBeLessThanOrEqual(20);
      expect(values.map(Number)).toEqual([...values.map(Number)].sort((x, y) => x - y));
    }
    const lastByKey = new Map(tail.map((r) => [r.key?.toString(), Number(r.value?.toString())]));
    expect(lastByKey).toEqual(new Map([['a', 196], ['b', 197], ['c', 198], ['d', 199]]));
  });
});
