// The consumer runner every processor uses. Per batch: each record goes through the handler with
// bounded retries; a record that still fails (or is not retryable, like undecodable bytes) becomes
// a DLQ record, so a bad record never blocks its partition. The handler's outputs and the DLQ
// records are produced BEFORE the offsets move:
//   - 'transactional': outputs and offsets are committed in one Kafka transaction (exactly once
//     for read_committed readers);
//   - 'at-least-once': outputs are sent with the idempotent producer, then offsets are committed.
// If producing or committing fails after kafkajs' own retries, the runner does not carry on with
// state that has moved past what Kafka holds: it reports a fatal error (onFatal) so the process
// shuts down and restarts from the committed offsets.
import { delay } from '../time.js';
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Logger } from '../logger.js';
import type { Registry } from '../metrics.js';
import { counter, gauge, histogram } from '../metrics.js';
import type { BitPredictError} from '../errors.js';
import { errorMessage, isBitPredictError, type ErrorCode } from '../errors.js';
import type { KafkaClient } from './client.js';
import { toKafkaError } from './client.js';
import type { OutRecord, Producer, TransactionalProducer } from './producer.js';

export interface InRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: Record<string, Buffer | undefined>;
}

export interface HandlerContext {
  heartbeat(): Promise<void>;
}

/** Returns the records to produce for this input (possibly none). Throw to retry or dead-letter. */
export type RecordHandler = (record: InRecord, ctx: HandlerContext) => Promise<OutRecord[] | void>;

export interface Failure {
  code: ErrorCode;
  message: string;
  attempts: number;
}

/** Builds the DLQ record (encoded) for a failed input. */
export type DeadLetterFactory = (record: InRecord, failure: Failure, groupId: string) => Promise<OutRecord>;

export type DeliveryMode =
  | { kind: 'transactional'; producer: TransactionalProducer }
  | { kind: 'at-least-once'; producer: Producer };

export interface ConsumerRunnerOptions {
  client: KafkaClient;
  groupId: string;
  topics: string[];
  fromBeginning?: boolean;
  handler: RecordHandler;
  deadLetter: DeadLetterFactory;
  delivery: DeliveryMode;
  logger: Logger;
  registry: Registry;
  maxAttempts: number;
  retryBackoffMs: number;
  /** Flush outputs and offsets after this many input records (bounds the work lost to a crash). */
  flushEvery?: number;
  /** at-least-once: commit resolved offsets at most this often (ms). */
  commitIntervalMs?: number;
  onFatal(err: BitPredictError): void;
}

export interface ConsumerRunner {
  start(): Promise<void>;
  /** Stops fetching, lets the batch in hand finish and flush, leaves the group. */
  stop(): Promise<void>;
  /** True once the consumer has joined its group. */
  readonly joined: boolean;
  readonly assignedPartitions: number;
}

function toInRecord(topic: string, partition: number, m: KafkaMessage): InRecord {
  const headers: Record<string, Buffer | undefined> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    headers[k] = Array.isArray(v) ? (v[0] === undefined ? undefined : Buffer.from(v[0])) : v === undefined ? undefined : Buffer.from(v);
  }
  return { topic, partition, offset: m.offset, key: m.key, value: m.value, timestamp: Number(m.timestamp), headers };
}

export function classifyError(err: unknown): { code: ErrorCode; retryable: boolean; message: string } {
  if (isBitPredictError(err)) return { code: err.code, retryable: err.retryable, message: err.message };
  return { code: 'ERR_HANDLER', retryable: true, message: errorMessage(err) };
}


export function createConsumerRunner(opts: ConsumerRunnerOptions): ConsumerRunner {
  const { client, groupId, handler, deadLetter, delivery, registry, maxAttempts, retryBackoffMs } = opts;
  const logger = opts.logger.child({ component: 'consumer', groupId });
  const flushEvery = opts.flushEvery ?? 500;
  const consumer: Consumer = client.raw.consumer({
    groupId,
    sessionTimeout: 30000,
    heartbeatInterval: 3000,
    // read_committed: never see records of aborted upstream transactions.
    readUncommitted: false,
    allowAutoTopicCreation: false,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10000 },
  });
  const recordsTotal = counter(registry, 'bitpredict_consumer_records_total', 'Input records by outcome', ['group', 'outcome']);
  const dlqTotal = counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']);
  const retriesTotal = counter(registry, 'bitpredict_consumer_retries_total', 'Handler attempts that failed and were retried', ['group']);
  const handlerSeconds = histogram(registry, 'bitpredict_consumer_handler_seconds', 'Time in the record handler', ['group']);
  const flushSeconds = histogram(registry, 'bitpredict_consumer_flush_seconds', 'Time to produce outputs and commit offsets', ['group', 'mode']);
  const lagGauge = gauge(registry, 'bitpredict_consumer_lag_records', 'Records behind the partition end at the last batch', ['group', 'topic', 'partition']);
  let joined = false;
  let assigned = 0;
  let fatal = false;
  const commitIntervalMs = opts.commitIntervalMs ?? 1000;
  // at-least-once: next offsets produced-and-resolved per partition, and what was last committed.
  const toCommit = new Map<string, { topic: string; partition: number; offset: string }>();
  const committed = new Map<string, string>();
  let commitTimer: NodeJS.Timeout | null = null;
  async function commitIdle(): Promise<void> {
    const pending = [...toCommit.entries()].filter(([k, o]) => committed.get(k) !== o.offset);
    if (pending.length === 0) return;
    try {
      await consumer.commitOffsets(pending.map(([, o]) => o));
      for (const [k, o] of pending) committed.set(k, o.offset);
    } catch (err) {
      // A rebalance in progress refuses the commit; the next owner re-reads at most these records.
      logger.debug({ err: errorMessage(err) }, 'idle offset commit refused');
    }
  }

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    // Offsets of partitions we may no longer own must not be committed by the idle timer.
    toCommit.clear();
    committed.clear();
    assigned = Object.values(e.payload.memberAssignment).reduce((n, parts) => n + parts.length, 0);
    logger.info({ assignment: e.payload.memberAssignment }, 'joined consumer group');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    const err = toKafkaError(e.payload.error, client.brokers);
    if (!e.payload.restart && !fatal) {
      fatal = true;
      logger.error({ err: err.message }, 'consumer crashed and will not restart');
      opts.onFatal(err);
    } else {
      logger.warn({ err: err.message }, 'consumer crashed; kafkajs restarts it');
    }
  });

  async function processOne(rec: InRecord, heartbeat: () => Promise<void>): Promise<OutRecord[]> {
    for (let attempt = 1; ; attempt++) {
      const stop = handlerSeconds.startTimer({ group: groupId });
      try {
        const out = (await handler(rec, { heartbeat })) ?? [];
        stop();
        recordsTotal.inc({ group: groupId, outcome: 'ok' });
        return out;
      } catch (err) {
        stop();
        const c = classifyError(err);
        if (c.retryable && attempt < maxAttempts) {
          retriesTotal.inc({ group: groupId });
          logger.warn({ topic: rec.topic, partition: rec.partition, offset: rec.offset, attempt, code: c.code, err: c.message }, 'handler failed; retrying');
          await delay(retryBackoffMs * 2 ** (attempt - 1));
          await heartbeat();
          continue;
        }
        dlqTotal.inc({ group: groupId, reason: c.code });
        recordsTotal.inc({ group: groupId, outcome: 'dlq' });
        logger.warn({ topic: rec.topic, partition: rec.partition, offset: rec.offset, attempts: attempt, code: c.code, err: c.message }, 'record sent to the DLQ');
        return [await deadLetter(rec, { code: c.code, message: c.message, attempts: attempt }, groupId)];
      }
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary } = payload;
    const pending: OutRecord[] = [];
    let lastOffset: string | null = null;
    let count = 0;
    const flush = async (): Promise<void> => {
      if (lastOffset === null) return;
      const next = (BigInt(lastOffset) + 1n).toString();
      const stop = flushSeconds.startTimer({ group: groupId, mode: delivery.kind });
      if (delivery.kind === 'transactional') {
        await delivery.producer.sendWithOffsets(pending, [{ consumerGroupId: groupId, topic: batch.topic, partition: batch.partition, offset: next }]);
      } else {
        await delivery.producer.send(pending);
      }
      stop();
      resolveOffset(lastOffset);
      if (delivery.kind === 'at-least-once') {
        // Outputs are durable, so the offset may move. Committing on every flush would put a
        // broker round trip in front of every next record; offsets are committed at most every
        // commitIntervalMs (here while busy, by the timer when idle) and always on rebalance and
        // disconnect. A crash in between re-delivers at most that interval's records:
        // at-least-once, by design.
        toCommit.set(`${batch.topic}:${batch.partition}`, { topic: batch.topic, partition: batch.partition, offset: next });
        await commitOffsetsIfNecessary();
      }
      pending.length = 0;
      lastOffset = null;
      count = 0;
    };
    try {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        const rec = toInRecord(batch.topic, batch.partition, message);
        pending.push(...(await processOne(rec, heartbeat)));
        lastOffset = message.offset;
        count++;
        if (count >= flushEvery) {
          await flush();
          await heartbeat();
        }
      }
      // A stale batch (partition revoked by a rebalance) must not commit: the new owner re-reads it.
      if (!isStale()) await flush();
      lagGauge.set({ group: groupId, topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    } catch (err) {
      const e = toKafkaError(err, client.brokers);
      if (!fatal) {
        fatal = true;
        logger.error({ err: e.message, code: e.code, topic: batch.topic, partition: batch.partition }, 'could not produce or commit; stopping so the process restarts from committed offsets');
        opts.onFatal(e);
      }
      throw e;
    }
  }

  return {
    async start() {
      try {
        await consumer.connect();
        for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning ?? true });
        // Transactions commit offsets themselves; at-least-once lets kafkajs commit resolved offsets.
        const autoCommit = delivery.kind === 'at-least-once';
        await consumer.run({ autoCommit, autoCommitInterval: autoCommit ? commitIntervalMs : null, autoCommitThreshold: null, eachBatchAutoResolve: false, eachBatch });
        if (autoCommit) {
          commitTimer = setInterval(() => void commitIdle(), commitIntervalMs);
          commitTimer.unref();
        }
      } catch (err) {
        throw toKafkaError(err, client.brokers);
      }
    },
    async stop() {
      if (commitTimer) clearInterval(commitTimer);
      await consumer.disconnect();
      joined = false;
    },
    get joined() {
      return joined;
    },
    get assignedPartitions() {
      return assigned;
    },
  };
}

