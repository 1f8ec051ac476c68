// A gateway process (helpers-b-procs.ts) from the outside: waiting until it really reads its topics.
import { waitFor, type TestPlatform } from '../helpers/platform.js';
import { connectWs, prediction, producePredictions, wsUrl } from '../helpers/ws-client.js';
import type { Producer } from '../../core/kafka/producer.js';

/**
 * Waits until the gateway at `url` delivers a record produced now: it consumes from the latest
 * offset, and "ready" (group joined) comes before its first fetch has fixed that offset, so a
 * record produced right after readiness could fall before it. Probes on a channel of its own.
 */
export async function warmUpGateway(tp: TestPlatform, producer: Producer, url: string, headers: Record<string, string>): Promise<void> {
  const c = await connectWs(wsUrl(url), { headers });
  try {
    c.send({ op: 'subscribe', channel: 'predictions:WARMUP' });
    await c.waitFor((m) => m.type === 'subscribed', 'the warm-up subscription');
    let i = 0;
    await waitFor(
      async () => {
        await producePredictions(tp, producer, [prediction(i++, { symbol: 'WARMUP' })]);
        return c
          .waitFor((m) => m.type === 'prediction', 'a warm-up prediction', 500)
          .then(() => true)
          .catch(() => false);
      },
      'the gateway to read the predictions topic',
      30_000,
    );
  } finally {
    c.close();
  }
}
