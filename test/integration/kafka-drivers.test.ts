// The Kafka driver contract, on the real broker, for both drivers side by side: whatever
// BITPREDICT_KAFKA_CLIENT says, core/kafka must behave the same. Each check runs once per driver,
// and some mix them (a record one driver writes, the other reads; a zombie one driver made, the
// other fences), since a fleet may run both during a migration.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, createKafkaClient, type KafkaAdmin, type KafkaClient } from '../../core/kafka/client.js';
import { DRIVER_NAMES, type DriverName } from '../../core/kafka/driver.js';
import { createProducer, createTransactionalProducer, type OutRecord } from '../../core/kafka/producer.js';
import { readRange } from '../../core/kafka/range.js';
import { readTail } from '../../core/kafka/tail.js';
import { readTopicFromStart } from '../../core/kafka/follow.js';
import { readAll } from '../helpers/kafka-read.js';
import type { InRecord } from '../../core/kafka/records.js';
import { createLogger } from '../../core/logger.js';
import { isBitPredictError } from '../../core/errors.js';
import { loadConfig } from '../../core/config.js';
import { murmur2 } from '../../core/kafka/drivers/platformatic/base.js';
import { createConsumerRunner, type ConsumerRunner } from '../../core/kafka/consumer.js';
import { createDelivery } from '../../core/kafka/delivery.js';
import { createMetricsRegistry } from '../../core/metrics.js';

const DAY = 86_400_000;
const logger = createLogger({ level: 'silent', name: 'kafka-drivers-test' });
const brokers = loadConfig(process.env).kafka.brokers;
const run = randomBytes(3).toString('hex');
const clientOf = (driver: DriverName): KafkaClient =>
  createKafkaClient({ brokers, clientId: `drivers-test-${driver}`, driver, topicPrefix: `t.drivers.${run}.` }, logger);

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string; retryable: boolean }> {
  try {
    await p;
  } catch (err) {
    if (isBitPredictError(err)) return { code: err.code, message: err.message, retryable: err.retryable };
    return { code: 'not a BitPredictError', message: String(err), retryable: false };
  }
  return { code: 'no error', message: '', retryable: false };
}

describe('Kafka drivers: one contract, both clients', () => {
  const clients = {} as Record<DriverName, KafkaClient>;
  let admin: KafkaAdmin;
  const topics: string[] = [];
  const topic = (name: string): string => {
    const t = `t.drivers.${run}.${name}`;
    topics.push(t);
    return t;
  };

  beforeAll(async () => {
    for (const d of DRIVER_NAMES) clients[d] = clientOf(d);
    admin = await createAdmin(clients.kafkajs);
  });
  afterAll(async () => {
    if (topics.length > 0) await admin?.deleteTopics(topics).catch(() => undefined);
    await admin?.close();
  });

  it('each driver reports its own name, and creates and lists topics the same way (creating twice is no error)', async () => {
    for (const d of DRIVER_NAMES) {
      expect(clients[d].driver).toBe(d);
      const a = await createAdmin(clients[d]);
      const name = topic(`create-${d}`);
      expect(await a.ensureTopics([{ name, partitions: 3, replicationFactor: 1, configs: { 'retention.ms': '-1' } }])).toEqual([name]);
      expect(await a.ensureTopics([{ name, partitions: 3, replicationFactor: 1 }])).toEqual([]);
      expect(await a.listTopics()).toContain(name);
      expect((await a.endOffsets(name)).map((p) => p.partition).sort()).toEqual([0, 1, 2]);
      await a.close();
    }
  });

  it('a key lands in the same partition whichever driver produced it, and the other driver reads it back byte for byte', async () => {
    const name = topic('keys');
    await admin.ensureTopics([{ name, partitions: 5, replicationFactor: 1 }]);
    const keys = Array.from({ length: 40 }, (_, i) => `BTC${i}USDT:${i % 3 ? '1h' : '1m'}`);
    for (const d of DRIVER_NAMES) {
      const producer = await createProducer(clients[d]);
      await producer.send(
        keys.map((key, i) => ({ topic: name, key, value: Buffer.from(`${d}:${i}`), timestamp: 1_500_000_000_000 + i * DAY, headers: { from: d } })),
      );
      await producer.close();
    }
    for (const reader of DRIVER_NAMES) {
      const records = await readAll(clients[reader], name, 80);
      expect(records).toHaveLength(80);
      for (const key of keys) {
        const partitions = new Set(records.filter((r) => r.key?.toString() === key).map((r) => r.partition));
        expect(partitions.size, `key ${key} in one partition (read with ${reader})`).toBe(1);
      }
      const one = records.find((r) => r.value?.toString() === 'platformatic:7');
      // Record timestamps a day apart: one produce batch spans 40 days, beyond 2^31 ms from its first record.
      expect(one).toMatchObject({ timestamp: 1_500_000_000_000 + 7 * DAY });
      expect(one?.key?.toString()).toBe(keys[7]);
      expect(one?.headers.from?.toString()).toBe('platformatic');
    }
  });

  it('keeps the order of one key through each idempotent producer, and offsets by time, ends and lag agree', async () => {
    for (const d of DRIVER_NAMES) {
      const name = topic(`order-${d}`);
      await admin.ensureTopics([{ name, partitions: 3, replicationFactor: 1 }]);
      const producer = await createProducer(clients[d]);
      for (let i = 0; i < 2000; i += 500) {
        await producer.send(
          Array.from({ length: 500 }, (_, j) => ({
            topic: name,
            key: 'one',
            value: Buffer.from(String(i + j)),
            timestamp: 1_600_000_000_000 + (i + j) * 1000,
          })),
        );
      }
      await producer.close();
      const a = await createAdmin(clients[d]);
      const ends = await a.endOffsets(name);
      const part = ends.find((e) => e.offset === '2000')?.partition;
      expect(part, `${d}: all 2000 records of one key in one partition`).toBeDefined();
      const at = await a.offsetsForTime(name, 1_600_000_000_000 + 1234 * 1000);
      expect(at.find((p) => p.partition === part)?.offset).toBe('1234');
      // No record at or after the time: the partition's end.
      expect((await a.offsetsForTime(name, 1_700_000_000_000)).find((p) => p.partition === part)?.offset).toBe('2000');
      const lag = await a.groupLag(`drivers-${run}-nobody`, name);
      expect(lag.find((l) => l.partition === part)).toMatchObject({ committed: '-1', end: '2000', lag: 2000 });
      const values: number[] = [];
      await readRange(clients[d], name, part!, 100n, 1900n, (r) => {
        values.push(Number(r.value?.toString()));
      });
      expect(values).toEqual(Array.from({ length: 1800 }, (_, i) => 100 + i));
      await a.close();
    }
  });

  it('takes concurrent sends on one producer (callers need not wait for each other): every record once, each call keeping its order per key', async () => {
    for (const d of DRIVER_NAMES) {
      const name = topic(`concurrent-${d}`);
      await admin.ensureTopics([{ name, partitions: 3, replicationFactor: 1 }]);
      const producer = await createProducer(clients[d]);
      await Promise.all(
        Array.from({ length: 20 }, (_, call) =>
          producer.send(Array.from({ length: 10 }, (_, j) => ({ topic: name, key: `k${j % 4}`, value: Buffer.from(String(call * 10 + j)) }))),
        ),
      );
      await producer.close();
      const records = await readAll(clients[d], name, 200);
      expect(records, d).toHaveLength(200);
      for (let k = 0; k < 4; k++) {
        const values = records.filter((r) => r.key?.toString() === `k${k}`).map((r) => Number(r.value?.toString()));
        for (let call = 0; call < 20; call++) {
          const mine = values.filter((v) => Math.floor(v / 10) === call);
          expect(mine, `${d}: key k${k}, call ${call}`).toEqual([call * 10 + k, call * 10 + k + 4, call * 10 + k + 8].filter((v) => v < call * 10 + 10));
        }
      }
    }
  });

  it('a send refused for one partition (a record over the broker limit) neither loses nor doubles the next sends to the partitions it shared', async () => {
    const partitionOf = (k: string): number => (murmur2(Buffer.from(k)) & 0x7fffffff) % 2;
    const big = ['b', 'c', 'd', 'e'].find((k) => partitionOf(k) !== partitionOf('a'))!;
    for (const d of DRIVER_NAMES) {
      const name = topic(`refused-${d}`);
      await admin.ensureTopics([{ name, partitions: 2, replicationFactor: 1 }]);
      const producer = await createProducer(clients[d]);
      await producer.send([{ topic: name, key: 'a', value: Buffer.from('1') }]);
      // One request: 'a' is appended, the oversized record refused (MESSAGE_TOO_LARGE) for the other partition.
      const failed = await errorOf(
        producer.send([
          { topic: name, key: 'a', value: Buffer.from('2') },
          { topic: name, key: big, value: Buffer.alloc(2 * 1024 * 1024, 1) },
        ]),
      );
      expect(failed.code, d).toMatch(/^ERR_KAFKA/);
      // A producer that reused the refused request's sequence numbers would have these taken for a
      // retry of '2' and dropped by the broker, the send still answering success.
      await producer.send([{ topic: name, key: 'a', value: Buffer.from('3') }]);
      await Promise.all([
        producer.send([{ topic: name, key: 'a', value: Buffer.from('4') }]),
        producer.send([{ topic: name, key: big, value: Buffer.from('5') }]),
      ]);
      await producer.close();
      const values = (await readAll(clients[d], name, 5)).filter((r) => r.key?.toString() === 'a').map((r) => r.value?.toString());
      expect(values, d).toEqual(['1', '2', '3', '4']);
    }
  });

  it('commits records and offsets in one transaction, and neither driver ever shows an aborted one', async () => {
    const name = topic('txn');
    const input = topic('txn-input');
    await admin.ensureTopics([
      { name, partitions: 2, replicationFactor: 1 },
      { name: input, partitions: 1, replicationFactor: 1 },
    ]);
    // Two keys in different partitions: in one produce request the small record is appended and
    // the oversized one refused (over the broker's 1 MB message.max.bytes), so the transaction
    // holds data on the broker when it aborts.
    const partitionOf = (k: string): number => (murmur2(Buffer.from(k)) & 0x7fffffff) % 2;
    const small = { key: 'a' };
    const big = { key: ['b', 'c', 'd', 'e'].find((k) => partitionOf(k) !== partitionOf('a'))! };
    const group = `drivers-${run}-txn-group`;
    for (const d of DRIVER_NAMES) {
      const p = await createTransactionalProducer(clients[d], `drivers-${run}-${d}-txn`);
      const offset = d === 'kafkajs' ? '5' : '9';
      await p.sendWithOffsets(
        [{ topic: name, key: small.key, value: Buffer.from(`${d}:committed:1`) }],
        [{ consumerGroupId: group, topic: input, partition: 0, offset }],
      );
      const failed = await errorOf(
        p.sendWithOffsets(
          [
            { topic: name, key: small.key, value: Buffer.from(`${d}:aborted`) },
            { topic: name, key: big.key, value: Buffer.alloc(2 * 1024 * 1024, 1) },
          ],
          [{ consumerGroupId: group, topic: input, partition: 0, offset: '77' }],
        ),
      );
      expect(failed.code, `${d}: a refused transaction is an error`).toMatch(/^ERR_KAFKA/);
      // The aborted transaction's offset commit did not happen either.
      expect((await admin.groupLag(group, input))[0]?.committed).toBe(offset);
      // The next transaction on the same producer must land: the failed request had appended the
      // small record, and a producer that reused its sequence number would have the broker drop
      // this one as a duplicate while the commit marker committed nothing.
      await p.sendWithOffsets([{ topic: name, key: small.key, value: Buffer.from(`${d}:committed:2`) }], []);
      await p.close();
    }
    for (const reader of DRIVER_NAMES) {
      const values = (await readAll(clients[reader], name, 4)).map((r) => r.value?.toString());
      expect(values, `read with ${reader}`).toEqual(['kafkajs:committed:1', 'kafkajs:committed:2', 'platformatic:committed:1', 'platformatic:committed:2']);
    }
  });

  it('a new owner of a transactional id fences the old one, whichever drivers: the zombie gets ERR_KAFKA_FENCED naming the id', async () => {
    const name = topic('fence');
    await admin.ensureTopics([{ name, partitions: 1, replicationFactor: 1 }]);
    for (const zombieDriver of DRIVER_NAMES) {
      for (const ownerDriver of DRIVER_NAMES) {
        const id = `drivers-${run}-fence-${zombieDriver}-${ownerDriver}`;
        const zombie = await createTransactionalProducer(clients[zombieDriver], id);
        await zombie.sendWithOffsets([{ topic: name, key: 'z', value: Buffer.from(`${id}:before`) }], []);
        const owner = await createTransactionalProducer(clients[ownerDriver], id);
        const err = await errorOf(zombie.sendWithOffsets([{ topic: name, key: 'z', value: Buffer.from(`${id}:zombie`) }], []));
        expect(err.code, `${zombieDriver} fenced by ${ownerDriver}`).toBe('ERR_KAFKA_FENCED');
        expect(err.retryable).toBe(false);
        expect(err.message).toContain(id);
        await owner.sendWithOffsets([{ topic: name, key: 'z', value: Buffer.from(`${id}:owner`) }], []);
        await owner.close();
        await zombie.close().catch(() => undefined);
      }
    }
    const values = (await readAll(clients.platformatic, name, 8)).map((r) => r.value?.toString() ?? '');
    expect(values.filter((v) => v.endsWith(':zombie'))).toEqual([]);
    expect(values.filter((v) => v.endsWith(':owner'))).toHaveLength(4);
  });

  it('describes and alters topic configs the same way on both drivers (only the topic-level ones, the others kept)', async () => {
    for (const d of DRIVER_NAMES) {
      const a = await createAdmin(clients[d]);
      const name = topic(`configs-${d}`);
      await a.ensureTopics([
        { name, partitions: 1, replicationFactor: 1, configs: { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'segment.ms': '3600000' } },
      ]);
      expect(await a.topicConfigs(name)).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': '-1', 'segment.ms': '3600000' });
      await a.alterTopicConfigs(name, { 'retention.ms': String(30 * DAY) });
      // The other topic-level config survives (kafkajs only has the replacing AlterConfigs).
      expect(await a.topicConfigs(name)).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY), 'segment.ms': '3600000' });
      expect((await errorOf(a.topicConfigs(topic(`missing-${d}`)))).code).toMatch(/^ERR_KAFKA/);
      await a.close();
    }
  });

  it('starts a whole-topic reader at a time: offsets by time, sought on assignment, on both drivers', async () => {
    const name = topic('from-time');
    await admin.ensureTopics([{ name, partitions: 2, replicationFactor: 1 }]);
    const producer = await createProducer(clients.kafkajs);
    const base = 1_600_000_000_000;
    // 200 records per partition an hour apart, a few stamped out of order (an hour back).
    await producer.send(
      Array.from({ length: 400 }, (_, i) => ({
        topic: name,
        key: `k${i % 7}`,
        value: Buffer.from(String(i)),
        timestamp: base + (i % 17 === 0 ? i - 2 : i) * 3_600_000,
      })),
    );
    await producer.close();
    const from = base + 300 * 3_600_000;
    const all = await readAll(clients.kafkajs, name, 400);
    const ends = new Map((await admin.endOffsets(name)).map((e) => [e.partition, BigInt(e.offset)]));
    const expected = (await admin.offsetsForTime(name, from))
      .map((p) => ({ partition: p.partition, offset: BigInt(p.offset) }))
      .sort((x, y) => x.partition - y.partition);
    for (const d of DRIVER_NAMES) {
      const got: InRecord[] = [];
      const reached = new Map<number, bigint>();
      const reader = await readTopicFromStart({
        client: clients[d],
        topic: name,
        groupId: `drivers-from-time-${d}-${run}`,
        fromTime: from,
        onBatch: async (_p, records) => void got.push(...records),
        onProgress: (p, next) => void reached.set(p, next),
      });
      expect([...reader.startOffsets].map(([partition, offset]) => ({ partition, offset })).sort((x, y) => x.partition - y.partition)).toEqual(expected);
      const deadline = Date.now() + 30_000;
      while ([...ends].some(([p, end]) => (reached.get(p) ?? 0n) < end) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await reader.stop();
      // Nothing before the offsets by time, everything from them on; no record stamped at or after
      // the time is missed (every record before a start offset is earlier).
      const want = all.filter((r) => BigInt(r.offset) >= (expected.find((e) => e.partition === r.partition)?.offset ?? 0n));
      const key = (r: InRecord): string => `${r.partition}:${r.offset}`;
      expect(got.map(key).sort()).toEqual(want.map(key).sort());
      expect(got.length).toBeLessThan(150);
      const late = all.filter((r) => r.timestamp >= from).map(key);
      expect(late.length).toBeGreaterThan(90);
      expect(got.map(key)).toEqual(expect.arrayContaining(late));
    }
  });

  it('reads the tail of every partition the same way on both drivers', async () => {
    const name = topic('tail');
    await admin.ensureTopics([{ name, partitions: 3, replicationFactor: 1 }]);
    const producer = await createProducer(clients.kafkajs);
    const records: OutRecord[] = Array.from({ length: 300 }, (_, i) => ({ topic: name, key: `k${i % 6}`, value: Buffer.from(String(i)) }));
    await producer.send(records);
    await producer.close();
    const tails = await Promise.all(DRIVER_NAMES.map((d) => readTail(clients[d], name, { perPartition: 10 })));
    const simple = (rs: InRecord[]): string[] => rs.map((r) => `${r.partition}:${r.offset}:${r.value?.toString()}`);
    expect(tails[0]!.length).toBeGreaterThan(0);
    expect(simple(tails[1]!)).toEqual(simple(tails[0]!));
  });

  it('an unreachable cluster is ERR_KAFKA_UNREACHABLE, retryable, naming the addresses, never a hang, on both drivers', async () => {
    for (const d of DRIVER_NAMES) {
      const client = createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'unreachable', driver: d, connectRetries: 1 }, logger);
      const err = await errorOf(createProducer(client));
      expect(err.code, d).toBe('ERR_KAFKA_UNREACHABLE');
      expect(err.retryable).toBe(true);
      expect(err.message).toContain('127.0.0.1:1');
    }
  });

  it('one consumer group can hold members on both drivers (a rolling switch): partitions split and move between them exactly once', async () => {
    const input = topic('mixed-in');
    const output = topic('mixed-out');
    await admin.ensureTopics([
      { name: input, partitions: 4, replicationFactor: 1 },
      { name: output, partitions: 1, replicationFactor: 1 },
    ]);
    const groupId = `drivers-${run}-mixed`;
    const fatal: unknown[] = [];
    const members: Record<string, { runner: ConsumerRunner; close(): Promise<void> }> = {};
    const start = async (d: DriverName): Promise<ConsumerRunner> => {
      // One transactional id prefix for the group, whatever the driver: a partition's id moves with it.
      const delivery = await createDelivery(clients[d], 'exactly-once', `drivers-${run}-mixed`);
      const runner = createConsumerRunner({
        client: clients[d],
        groupId,
        topics: [input],
        handler: async (rec) => [{ topic: output, key: rec.key?.toString() ?? null, value: Buffer.from(`${rec.value?.toString() ?? ''}`) }],
        deadLetter: async () => {
          throw new Error('no record fails here');
        },
        delivery: delivery.mode,
        logger,
        registry: createMetricsRegistry({ service: `mixed-${d}`, defaultMetrics: false }),
        maxAttempts: 1,
        retryBackoffMs: 1,
        sessionTimeoutMs: 10_000,
        onFatal: (e) => {
          fatal.push(e);
        },
      });
      await runner.start();
      members[d] = { runner, close: async () => (await runner.stop(), await delivery.close()) };
      return runner;
    };
    const producer = await createProducer(clients.kafkajs);
    let sent = 0;
    const send = async (n: number): Promise<void> => {
      await producer.send(Array.from({ length: n }, (_, i) => ({ topic: input, key: `k${(sent + i) % 16}`, value: Buffer.from(String(sent + i)) })));
      sent += n;
    };
    const caughtUp = async (what: string): Promise<void> => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const lag = await admin.groupLag(groupId, input);
        if (lag.every((p) => p.lag === 0 && p.committed !== '-1')) return;
        if (Date.now() > deadline) throw new Error(`${what}: the group did not catch up: ${JSON.stringify(lag)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const k = await start('kafkajs');
    await send(200);
    await caughtUp('kafkajs alone');
    const p = await start('platformatic');
    const deadline = Date.now() + 30_000;
    while (!(k.assignedPartitions > 0 && p.assignedPartitions > 0 && k.assignedPartitions + p.assignedPartitions === 4) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect([k.assignedPartitions, p.assignedPartitions].sort()).toEqual([2, 2]);
    await send(200);
    await caughtUp('both drivers');
    // The kafkajs member leaves: the platformatic one takes every partition, fencing by transactional id.
    await members.kafkajs!.close();
    await send(200);
    await caughtUp('platformatic alone');
    expect(p.assignedPartitions).toBe(4);
    await members.platformatic!.close();
    await producer.close();
    expect(fatal).toEqual([]);
    const values = (await readAll(clients.kafkajs, output, 600)).map((r) => Number(r.value?.toString()));
    expect(values).toHaveLength(600);
    expect(new Set(values).size).toBe(600);
  });
});
