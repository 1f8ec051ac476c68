// readTail: the last records of every partition, the basis of dedupe on restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { createProducer } from '../../core/kafka/producer.js';
import { readTail } from '../../core/kafka/tail.js';
import { readRange } from '../../core/kafka/range.js';

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

  it("returns the last records of each partition, in offset order, including each key's last record", async () => {
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
    expect(lastByKey).toEqual(
      new Map([
        ['a', 196],
        ['b', 197],
        ['c', 198],
        ['d', 199],
      ]),
    );
  });

  it('readRange reads exactly [from, to) of one partition, across many fetches, in order', async () => {
    const producer = await createProducer(tp.platform.kafka);
    const topic = tp.topic('predictions');
    // One key: one partition. ~1 kB a record: the range (2 MB) spans several fetches (1 MB per partition each).
    const records = Array.from({ length: 3000 }, (_, i) => ({ topic, key: 'one', value: Buffer.from(`${i}:`.padEnd(1000, 'x')) }));
    for (let i = 0; i < records.length; i += 200) await producer.send(records.slice(i, i + 200));
    await producer.close();
    const partition = (await tp.admin.endOffsets(topic)).find((p) => p.offset === '3000')?.partition;
    expect(partition).toBeDefined();
    const got: number[] = [];
    const n = await readRange(tp.platform.kafka, topic, partition ?? 0, 500n, 2600n, (rec) => {
      got.push(Number(rec.value?.toString().split(':')[0]));
    });
    expect(n).toBe(2100);
    expect(got).toEqual(Array.from({ length: 2100 }, (_, i) => 500 + i));
    expect(await readRange(tp.platform.kafka, topic, partition ?? 0, 10n, 10n, () => undefined)).toBe(0);
  });
});
