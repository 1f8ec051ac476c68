// `bitpredict news|x|text-replay`: the text producers into text.raw.
import type { CommandContext } from './context.js';
import { parseFlags, UsageError } from './flags.js';
import { TEXT_REPLAY_FLAGS } from './specs.js';
import { runOneShot, runWorker } from './worker.js';
import { createNewsService } from '../producers/text/news.js';
import { createXService } from '../producers/text/x.js';
import { runTextReplay as replayText } from '../producers/text/replay.js';
import { resolveDataFile } from '../core/data/files.js';
import { createProducer, type Producer } from '../core/kafka/producer.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { Platform } from '../core/runtime.js';

/** `bitpredict news`: polls BITPREDICT_RSS_FEEDS; exits 0 at once when none are configured. */
export async function runNews(ctx: CommandContext): Promise<number> {
  if (ctx.config.text.rssFeeds.length === 0) {
    ctx.logger.info('news polling is off: BITPREDICT_RSS_FEEDS is empty');
    return 0;
  }
  return runWorker(ctx, 'news', async (d) =>
    createNewsService({ platform: d.platform, config: ctx.config, producer: await producerFor(d.platform, d.lifecycle) }),
  );
}

/** `bitpredict x`: X recent search; exits 0 at once when BITPREDICT_X_BEARER_TOKEN is empty. */
export async function runX(ctx: CommandContext): Promise<number> {
  if (ctx.config.text.x.bearerToken === '') {
    ctx.logger.info('X source is off: BITPREDICT_X_BEARER_TOKEN is not set');
    return 0;
  }
  return runWorker(ctx, 'x', async (d) => createXService({ platform: d.platform, config: ctx.config, producer: await producerFor(d.platform, d.lifecycle) }));
}

async function producerFor(platform: Platform, lifecycle: Lifecycle): Promise<Producer> {
  const producer = await createProducer(platform.kafka);
  // Registered before the service's stop step, so it runs after it: the producer outlives the last poll.
  lifecycle.onShutdown('close producer', () => producer.close());
  return producer;
}

/** `bitpredict text-replay [file] [--rate N] [--limit N]`: publishes a text file once and exits. */
export async function runTextReplay(ctx: CommandContext): Promise<number> {
  const { config } = ctx;
  const { values, positionals } = parseFlags(TEXT_REPLAY_FLAGS, ctx.args, true);
  if (positionals.length > 1) throw new UsageError(`text-replay takes at most one file, got ${positionals.length}`);
  const file = positionals[0] ?? config.text.replayFile;
  const rate = Number(values.rate);
  const limit = Number(values.limit);
  if (!Number.isFinite(rate) || rate < 0) throw new UsageError(`--rate: "${values.rate}" is not a number of items per second >= 0`);
  if (!Number.isInteger(limit) || limit < 0) throw new UsageError(`--limit: "${values.limit}" is not a whole number >= 0`);
  resolveDataFile(config.data.dir, file, { setting: positionals[0] === undefined ? 'BITPREDICT_TEXT_REPLAY_FILE' : 'the FILE argument' });
  return runOneShot(ctx, 'text-replay', ({ platform, producer, signal }) => replayText({ platform, config, producer, file, rate, limit, signal }));
}
