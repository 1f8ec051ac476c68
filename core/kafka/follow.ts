// Follows a (compacted) topic from its beginning and keeps following it, for state every process
// rebuilds by itself on start: the predictor's champion and the gateway's model registry view both
// read the `models` topic this way. A consumer group of its own per process start that never
// commits (the next start reads from the beginning again), so it cannot disturb any other reader.
import type { KafkaMessage } from 'kafkajs';
import type { Logger } from '../logger.js';
import type { KafkaClient } from './client.js';
import { createAdmin } from './client.js';

export interface FollowOptions {
  client: KafkaClient;
  topic: string;
  /** A group id unique to this process start. */
  groupId: string;
  logger: Logger;
  /** How long start waits for the catch-up before going on with what has been read (default 15 s). */
  catchUpMs?: number;
  /** Each record, in partition order; the catch-up bookkeeping runs after it, even if it throws. */
  onMessage(partition: number, message: KafkaMessage): Promise<void>;
  /** Once, when every partition has been read up to the end it had at start (not on the timeout). */
  onCaughtUp?(): void;
}

export interface Follower {
  stop(): Promise<void>;
}

/** Resolves once the topic has been read to the end it had at start, or after `catchUpMs`. */
export async function followFromStart(o: FollowOptions): Promise<Follower> {
  const admin = await createAdmin(o.client);
  let ends: Map<number, bigint>;
  try {
    ends = new Map((await admin.endOffsets(o.topic)).map((e) => [e.partition, BigInt(e.offset)]));
  } finally {
    await admin.close();
  }
  const pending = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
  let caughtUp = false;
  let markCaughtUp: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    markCaughtUp = () => {
      if (caughtUp) return;
      caughtUp = true;
      o.onCaughtUp?.();
      resolve();
    };
  });
  if (pending.size === 0) markCaughtUp();
  const consumer = o.client.raw.consumer({ groupId: o.groupId, readUncommitted: false, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic: o.topic, fromBeginning: true });
  await consumer.run({
    // Read from the beginning by every process start; offsets are never needed again.
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      try {
        await o.onMessage(partition, message);
      } finally {
        const end = ends.get(partition);
        if (end !== undefined && BigInt(message.offset) + 1n >= end - 1n) {
          // Transaction markers take offsets too: the end minus one counts as caught up.
          pending.delete(partition);
          if (pending.size === 0) markCaughtUp();
        }
      }
    },
  });
  const timeout = o.catchUpMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(() => {
    o.logger.warn({ topic: o.topic, timeoutMs: timeout }, `${o.topic} not read to its end in time; going on with what has been read`);
    resolve();
  }, timeout)))]);
  clearTimeout(timer);
  return { stop: () => consumer.disconnect() };
}
