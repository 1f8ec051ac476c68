// Exactly-once: the first batch of an input partition after a join. Taking over the partition's
// transactional id fences a previous owner and waits for its open transaction to end. Only then is
// the committed offset final: if it is not where this batch starts (a zombie committed in
// between), the batch is dropped and the consumer starts again from the committed offset.
import type { Logger } from '../../logger.js';
import type { KafkaClient } from '../client.js';
import { driverOf } from '../client.js';
import type { DriverAdmin, DriverConsumer } from '../driver.js';
import type { RebalanceTracker } from './rebalance.js';
import { tpKey } from './rebalance.js';
import type { DeliveryMode } from './types.js';

export interface Takeover {
  /**
   * Fences the partition's previous owner. False when the committed offset is not `fetched`, the
   * batch's first offset: the consumer now seeks there and the batch must not be handled. Throws
   * when the transactional id or the committed offset cannot be had (fatal for the caller).
   */
  takeOver(topic: string, partition: number, fetched: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface TakeoverDeps {
  client: KafkaClient;
  groupId: string;
  delivery: DeliveryMode;
  consumer: Pick<DriverConsumer, 'seek'>;
  tracker: RebalanceTracker;
  logger: Logger;
}

export function createTakeover(deps: TakeoverDeps): Takeover {
  const { client, groupId, delivery, logger } = deps;
  // One admin for the runner's life, made on the first takeover; a failed connect is tried again next time.
  let admin: Promise<DriverAdmin> | null = null;

  async function committedOffset(topic: string, partition: number): Promise<string | null> {
    const connecting = (admin ??= driverOf(client).admin());
    let connected: DriverAdmin;
    try {
      connected = await connecting;
    } catch (err) {
      if (admin === connecting) admin = null;
      throw err;
    }
    const o = (await connected.committedOffsets(groupId, topic)).find((p) => p.partition === partition)?.offset;
    return o === undefined || o === '-1' ? null : o;
  }

  return {
    async takeOver(topic, partition, fetched) {
      // At-least-once has no transactional id, so nothing to fence: a previous owner's late
      // outputs are the duplicates that mode accepts.
      if (delivery.kind !== 'transactional') return true;
      const context = { topic, partition };
      logger.debug(context, 'taking over the transactional id of the partition');
      await delivery.producerFor(topic, partition);
      const c = await committedOffset(topic, partition);
      logger.debug({ ...context, committed: c, fetched }, 'took over the transactional id');
      if (c === null || c === fetched) return true;
      logger.info({ ...context, fetched, committed: c }, 'committed offset moved while taking over the partition; seeking');
      deps.tracker.stateLost(tpKey(topic, partition));
      deps.consumer.seek(topic, partition, c);
      return false;
    },
    async close() {
      if (admin) await admin.then((a) => a.close()).catch(() => undefined);
    },
  };
}
