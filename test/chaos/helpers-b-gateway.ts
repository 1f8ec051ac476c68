// A gateway process (helpers-b-procs.ts) from the outside: waiting until it really reads its topics.
import type { TestPlatform } from '../helpers/platform.js';
import { warmUp } from '../helpers/ws-client.js';
import type { Producer } from '../../core/kafka/producer.js';

/**
 * Waits until the gateway at `url` delivers a record produced now: it consumes from the latest
 * offset, and "ready" (group joined) comes before its first fetch has fixed that offset, so a
 * record produced right after readiness could fall before it. Probes on a channel of its own
 * (test/helpers/ws-client.ts warmUp: it produces until the gateway knows the probe symbol).
 */
export async function warmUpGateway(tp: TestPlatform, producer: Producer, url: string, headers: Record<string, string>): Promise<void> {
  await warmUp(tp, producer, url, headers);
}
