// `bitpredict market-data`: live Binance and Coinbase candles into market.candles, until SIGTERM.
import type { CommandContext } from './context.js';
import { runWorker } from './worker.js';
import { createMarketDataService } from '../producers/market-data/service.js';

export async function run(ctx: CommandContext): Promise<number> {
  return runWorker(ctx, 'market-data', (d) => createMarketDataService({ platform: d.platform, config: ctx.config, onFatal: d.onFatal }));
}
