// Where a (re)started service resumes: the last published candle open time per key, read from the
// tail of market.candles, so that a restart neither duplicates nor misses candles.
import type { Logger } from '../../core/logger.js';
import type { Platform } from '../../core/runtime.js';
import { readTail } from '../../core/kafka/tail.js';
import { isBitPredictError } from '../../core/errors.js';
import { backoffDelay } from './domain/index.js';
import { sleep } from './rest.js';

/** Raises `last` to the newest open time of each of `keys` found in the tail of `topic`. */
export async function loadLastPublished(
  deps: { platform: Platform; topic: string; logger: Logger; random: () => number; signal: AbortSignal },
  keys: ReadonlySet<string>,
  last: Map<string, number>,
): Promise<void> {
  const { platform, topic, logger } = deps;
  let tail: Awaited<ReturnType<typeof readTail>> = [];
  // A topic created moments ago may not have a leader yet: retriable errors are retried briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      tail = await readTail(platform.kafka, topic, { perPartition: 500 });
      break;
    } catch (err) {
      if (!isBitPredictError(err) || !err.retryable || attempt >= 10) throw err;
      logger.warn({ err, attempt }, 'reading the tail of market.candles failed; retrying');
      await sleep(backoffDelay(attempt, 100, 2000, deps.random), deps.signal);
    }
  }
  for (const rec of tail) {
    const key = rec.key?.toString() ?? '';
    if (!keys.has(key) || !rec.value) continue;
    try {
      const c = await platform.serde.decode('candles', rec.value);
      if (c.openTime > (last.get(key) ?? Number.NEGATIVE_INFINITY)) last.set(key, c.openTime);
    } catch (err) {
      logger.warn({ key, err }, 'undecodable record in the tail of market.candles; ignored');
    }
  }
  logger.info({ lastPublished: Object.fromEntries([...last].map(([k, v]) => [k, new Date(v).toISOString()])) }, 'resuming after the last published candles');
}
