// Idempotent and transactional producers on @platformatic/kafka.
//
// Connecting uses the few retries of the settings, so an unreachable cluster is reported in
// seconds; once connected, a producer never gives up on a batch by itself (idempotence only holds
// then: a broker outage becomes backpressure, as with the kafkajs driver). A transactional producer
// initialises its transactional id when it is created, which fences the id's previous owner and
// aborts its open transaction at once; offsets go into the transaction with no group generation
// (the pre-KIP-447 commit the one-transactional-id-per-input-partition design relies on). Once
// fenced, a producer refuses all further work: re-initialising the id would fence the new owner.
import { kOptions, Producer, ProduceAcks, type MessageToProduce } from '@platformatic/kafka';
import { BitPredictError } from '../../../errors.js';
import type { OutRecord } from '../../records.js';
import type { DriverProducer, DriverSettings, DriverTransactionalProducer, OffsetCommit } from '../../driver.js';
import { baseOptions, createPartitioner, detail, isFenced, toError } from './base.js';
import type { GroupCoordinators } from './coordinators.js';
import { serialized } from '../serialized.js';

const FOREVER = Number.MAX_SAFE_INTEGER;

export function toMessages(records: OutRecord[]): MessageToProduce[] {
  const out = new Array<MessageToProduce>(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const m: MessageToProduce = { topic: r.topic };
    if (r.key !== null) m.key = Buffer.from(r.key);
    if (r.value !== null) m.value = r.value;
    if (r.timestamp !== undefined) m.timestamp = BigInt(r.timestamp);
    if (r.headers) {
      const headers = new Map<Buffer, Buffer>();
      for (const [k, v] of Object.entries(r.headers)) headers.set(Buffer.from(k), Buffer.from(v));
      m.headers = headers;
    }
    out[i] = m;
  }
  return out;
}

function newProducer(settings: DriverSettings, transactionalId?: string): Producer {
  const producer = new Producer({
    ...baseOptions(settings, transactionalId ? '-txn' : '-producer'),
    idempotent: true,
    acks: ProduceAcks.ALL,
    partitioner: createPartitioner(),
    autocreateTopics: false,
    // A new producer initialises its id as -1/-1. @platformatic/kafka 1.35 sends 0/0 by default,
    // which the broker reads as "producer 0 bumping its epoch" and refuses with PRODUCER_FENCED
    // once the transactional id belongs to any other producer: no instance could ever take over a
    // partition's transactional id after a restart.
    ...(transactionalId ? { transactionalId, producerId: -1n, producerEpoch: -1 } : {}),
  });
  // An idempotent @platformatic/kafka producer turns `retries` of 0 or 1 into "forever"; connecting
  // must give up after the settings' few retries, whatever they are.
  retriesOf(producer).retries = settings.connectRetries;
  return producer;
}

function retriesOf(p: Producer): { retries: number } {
  return (p as unknown as Record<symbol, { retries: number }>)[kOptions]!;
}

/** After the first successful exchange: retry every later operation until it succeeds or the producer is closed. */
function retryForever(p: Producer): void {
  retriesOf(p).retries = FOREVER;
}

async function connectIdempotent(settings: DriverSettings): Promise<Producer> {
  const producer = newProducer(settings);
  try {
    await producer.initIdempotentProducer({});
  } catch (err) {
    await producer.close().catch(() => undefined);
    throw toError(err, settings.brokers);
  }
  retryForever(producer);
  return producer;
}

/**
 * One send at a time (../serialized.ts), and a new producer after a failed send: a produce
 * request refused for one partition (a record over the broker's limit) may have been appended for
 * another, whose sequence number the library then does not advance, so the broker would take the
 * next send's records there for a retry and drop them, the send still answering success. A new
 * producer gets a new producer id, whose sequences start afresh.
 */
export async function createPlatformaticProducer(settings: DriverSettings): Promise<DriverProducer> {
  let producer: Producer | null = await connectIdempotent(settings);
  return {
    send: serialized(async (records: OutRecord[]) => {
      if (records.length === 0) return;
      producer ??= await connectIdempotent(settings);
      const current = producer;
      try {
        await current.send({ messages: toMessages(records) });
      } catch (err) {
        producer = null;
        await current.close().catch(() => undefined);
        throw toError(err, settings.brokers);
      }
    }),
    close: async () => {
      const current = producer;
      producer = null;
      await current?.close();
    },
  };
}

export async function createPlatformaticTransactionalProducer(
  settings: DriverSettings,
  transactionalId: string,
  coordinators: GroupCoordinators,
): Promise<DriverTransactionalProducer> {
  let fenced = false;
  const fencedError = (cause?: unknown): BitPredictError =>
    new BitPredictError(
      'ERR_KAFKA_FENCED',
      `transactional id ${transactionalId}: another instance took it over (it owns the input partition now); this producer must not write again${cause ? ` (${detail(cause)})` : ''}`,
      { cause },
    );
  const connect = async (): Promise<Producer> => {
    const p = newProducer(settings, transactionalId);
    try {
      // Initialising the id (InitProducerId) fences the previous owner; the empty transaction is dropped locally.
      const txn = await p.beginTransaction();
      await txn.cancel();
    } catch (err) {
      await p.close().catch(() => undefined);
      throw isFenced(err) ? fencedError(err) : toError(err, settings.brokers);
    }
    retryForever(p);
    return p;
  };
  // After a failed transaction the producer is replaced before the next one: a produce request
  // that failed for one partition may have appended to another, and the library then reuses that
  // partition's sequence number, so the broker would take the next transaction's records for a
  // duplicate of the aborted ones and the commit would commit nothing. A new producer
  // re-initialises the id: a new epoch, sequences from 0 (the Java client bumps the epoch alike).
  let producer = await connect();
  let reset = false;
  return {
    sendWithOffsets: serialized(async (records: OutRecord[], offsets: OffsetCommit[]) => {
      if (fenced) throw fencedError();
      if (reset) {
        await producer.close().catch(() => undefined);
        producer = await connect();
        reset = false;
      }
      const txn = await producer.beginTransaction().catch((err: unknown) => {
        throw toError(err, settings.brokers);
      });
      try {
        if (records.length > 0) await txn.send({ messages: toMessages(records) });
        for (const o of offsets) {
          const coordinatorId = await coordinators.of(o.consumerGroupId);
          // Only the group id is read from the "consumer"; the offset commit carries no generation.
          await txn.addConsumer({ groupId: o.consumerGroupId } as never);
          await txn.addOffset({
            topic: o.topic,
            partition: o.partition,
            // The message's offset; the commit is offset + 1, the next offset to read.
            offset: BigInt(o.offset) - 1n,
            metadata: { consumer: { groupId: o.consumerGroupId, generationId: -1, memberId: '', coordinatorId } },
          } as never);
        }
        await txn.commit();
      } catch (err) {
        if (isFenced(err)) {
          fenced = true;
          await txn.cancel().catch(() => undefined);
          throw fencedError(err);
        }
        if (!txn.completed) {
          try {
            await txn.abort();
          } catch {
            // The abort failing leaves the transaction to time out on the broker; the original error matters more.
            await txn.cancel().catch(() => undefined);
          }
        }
        coordinators.forget();
        reset = true;
        throw toError(err, settings.brokers);
      }
    }),
    close: () => producer.close(),
  };
}
