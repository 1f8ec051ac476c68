import { describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { toInRecord, toTopicMessages } from './records.js';
import { offsetsByGroup } from './producer.js';

describe('toTopicMessages', () => {
  it('groups records by topic, keeping order, with string timestamps and headers', () => {
    const out = toTopicMessages([
      { topic: 'a', key: 'k1', value: Buffer.from('1'), timestamp: 10 },
      { topic: 'b', key: null, value: null },
      { topic: 'a', key: 'k2', value: Buffer.from('2'), headers: { h: 'v' } },
    ]);
    expect(out.map((t) => [t.topic, t.messages.map((m) => m.key)])).toEqual([
      ['a', ['k1', 'k2']],
      ['b', [null]],
    ]);
    expect(out[0]?.messages[0]?.timestamp).toBe('10');
    expect(out[0]?.messages[1]?.headers).toEqual({ h: 'v' });
    expect(out[1]?.messages[0]?.timestamp).toBeUndefined();
  });
});

describe('toInRecord', () => {
  it('keeps key, value and offset, makes the timestamp a number and every header a Buffer', () => {
    const m = {
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      offset: '41',
      timestamp: '1700000000000',
      attributes: 0,
      headers: { a: Buffer.from('x'), b: 'y', c: [Buffer.from('z1'), Buffer.from('z2')], d: undefined },
    } as unknown as KafkaMessage;
    const rec = toInRecord('t', 2, m);
    expect(rec).toMatchObject({ topic: 't', partition: 2, offset: '41', timestamp: 1_700_000_000_000 });
    expect(rec.key?.toString()).toBe('k');
    expect(Object.fromEntries(Object.entries(rec.headers).map(([k, v]) => [k, v?.toString()]))).toEqual({ a: 'x', b: 'y', c: 'z1', d: undefined });
  });
});

describe('offsetsByGroup', () => {
  it('groups offset commits per group, then per topic, as sendOffsets takes them', () => {
    expect(
      offsetsByGroup([
        { consumerGroupId: 'g1', topic: 'a', partition: 0, offset: '5' },
        { consumerGroupId: 'g2', topic: 'a', partition: 0, offset: '7' },
        { consumerGroupId: 'g1', topic: 'a', partition: 1, offset: '6' },
        { consumerGroupId: 'g1', topic: 'b', partition: 0, offset: '1' },
      ]),
    ).toEqual([
      {
        consumerGroupId: 'g1',
        topics: [
          {
            topic: 'a',
            partitions: [
              { partition: 0, offset: '5' },
              { partition: 1, offset: '6' },
            ],
          },
          { topic: 'b', partitions: [{ partition: 0, offset: '1' }] },
        ],
      },
      { consumerGroupId: 'g2', topics: [{ topic: 'a', partitions: [{ partition: 0, offset: '7' }] }] },
    ]);
  });
});
