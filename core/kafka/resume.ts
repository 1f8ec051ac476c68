// Dedupe on restart for candle producers: the last openTime of each key already in
// market.candles, read from the topic's tail. The last record of a key is its latest: candle
// producers publish a key in ascending open time to one partition.
import type { Platform } from '../runtime.js';
import { readTail } from './tail.js';

/**
 * Last openTime per key among the last `perPartition` records of each partition. A key whose last
 * record lies further back than that is missing from the map (its producer then starts over and
 * may repeat candles); a record that does not decode is logged and ignored, since it cannot be a
 * candle a producer would duplicate.
 */
export async function lastOpenTimesByKey(platform: Platform, topic: string, perPartition: number): Promise<Map<string, number>> {
  const tail = await readTail(platform.kafka, topic, { perPartition });
  const last = new Map<string, number>();
  for (const r of tail) {
    const key = r.key?.toString();
    if (key === undefined || r.value === null) continue;
    try {
      const c = await platform.serde.decode('candles', r.value);
      const prev = last.get(key);
      if (prev === undefined || c.openTime > prev) last.set(key, c.openTime);
    } catch (err) {
      platform.logger.warn({ topic, partition: r.partition, offset: r.offset, err }, 'resume: tail record does not decode; ignored');
    }
  }
  return last;
}
