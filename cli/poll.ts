// `bitpredict poll`: the REST polling fallback as a long-running worker. Polls
// BITPREDICT_POLL_URL (CryptoCompare-style histominute/histohour/histoday) every
// BITPREDICT_POLL_INTERVAL_MS for BITPREDICT_MARKET_SYMBOLS x BITPREDICT_MARKET_INTERVALS (those
// the API serves: 1m, 1h, 1d) and publishes closed candles to market.candles.
import type { CommandContext } from './context.js';
import { runWorker } from './worker.js';
import { createProducer } from '../core/kafka/producer.js';
import { createPollService } from '../producers/poll/service.js';

export async function run(ctx: CommandContext): Promise<number> {
  return runWorker(ctx, 'poll', async (d) => {
    const producer = await createProducer(d.platform.kafka);
    // Registered before the service's own stop step, so it runs after it: the last poll's
    // records are sent before the producer closes.
    d.lifecycle.onShutdown('close poll producer', () => producer.close());
    return createPollService({ platform: d.platform, config: ctx.config, producer, onFatal: d.onFatal });
  });
}
