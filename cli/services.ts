// The service commands: `bitpredict topics|replay|features|sentiment|predictor|gateway`.
import { redactUrl } from '../core/connection-security.js';
import type { CommandContext } from './context.js';
import { runOneShot, runWorker } from './worker.js';
import { createFeatureProcessor } from '../processors/features/service.js';
import { createPredictor } from '../processors/predictor/service.js';
import { createGateway } from '../gateway/service.js';
import { runReplay } from '../producers/replay/service.js';
import { resolveDataFile } from '../core/data/files.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas, topicSpecsOf } from '../core/runtime.js';
import { topicConfigDrift } from '../core/kafka/topics.js';
import { createAdmin } from '../core/kafka/client.js';

export const features = (ctx: CommandContext): Promise<number> =>
  runWorker(ctx, 'features', (d) => createFeatureProcessor({ platform: d.platform, config: ctx.config, redis: d.redis, onFatal: d.onFatal }));

export const predictor = (ctx: CommandContext): Promise<number> =>
  runWorker(ctx, 'predictor', (d) => createPredictor({ platform: d.platform, config: ctx.config, redis: d.redis, onFatal: d.onFatal }));

export const gateway = (ctx: CommandContext): Promise<number> =>
  runWorker(ctx, 'gateway', (d) => createGateway({ platform: d.platform, config: ctx.config, redis: d.redis, onFatal: d.onFatal }), {
    // The gateway's probes go to its own port (deployment/kubernetes/base/gateway.yaml): answer there while connecting.
    startupProbe: { host: ctx.config.gateway.host, port: ctx.config.gateway.port },
  });

/**
 * `bitpredict topics create|check|list`: creates the missing topics and registers the schemas
 * (idempotent), and compares the existing topics' retention and cleanup configs with the table of
 * core/kafka/topics.ts (and BITPREDICT_TOPIC_RETENTION_DAYS). A difference is reported, never
 * changed silently: `create --alter` sets the wanted values, `check` exits 1 while any differ.
 */
export async function topics(ctx: CommandContext): Promise<number> {
  // No subcommand, or flags only: create (the command table's default).
  const [sub = 'create', ...flags] = ctx.args[0] === undefined || ctx.args[0].startsWith('-') ? ['create', ...ctx.args] : ctx.args;
  const alter = flags.includes('--alter');
  const unknown = flags.filter((f) => f !== '--alter' || sub !== 'create');
  if (!['create', 'check', 'list'].includes(sub) || unknown.length > 0) {
    ctx.output.error('usage: bitpredict topics create [--alter] | check | list');
    return 2;
  }
  const platform = createPlatform({
    config: ctx.config,
    logger: ctx.logger,
    registry: createMetricsRegistry({ service: 'topics', defaultMetrics: false }),
    clientId: 'topics',
  });
  if (sub === 'create') {
    const { created } = await prepareTopicsAndSchemas(platform, ctx.config.kafka);
    ctx.output.line(created.length > 0 ? `created topics: ${created.join(', ')}` : 'all topics exist');
    ctx.output.line(`schemas registered (BACKWARD) at ${redactUrl(ctx.config.registry.url, { dropUser: true })}`);
    return 0;
  }
  const admin = await createAdmin(platform.kafka);
  try {
    if (sub === 'list') {
      for (const t of (await admin.listTopics()).sort()) ctx.output.line(t);
      return 0;
    }
    const specs = topicSpecsOf(platform, ctx.config.kafka);
    const existing = new Set(await admin.listTopics());
    const current = new Map<string, Record<string, string>>();
    for (const s of specs) if (existing.has(s.name)) current.set(s.name, await admin.topicConfigs(s.name));
    const drift = topicConfigDrift(specs, current);
    for (const d of drift) {
      const line = `${d.topic}: ${d.key} is ${d.have ?? '(broker default)'}, wanted ${d.want}`;
      if (alter) ctx.output.line(`${line}: set`);
      else ctx.output.error(`${line} (docs/topics.md; \`bitpredict topics create --alter\` sets it)`);
    }
    if (alter) {
      for (const topic of new Set(drift.map((d) => d.topic))) {
        await admin.alterTopicConfigs(topic, Object.fromEntries(drift.filter((d) => d.topic === topic).map((d) => [d.key, d.want])));
      }
    }
    if (drift.length === 0) ctx.output.line('topic configs as wanted (retention, cleanup)');
    return sub === 'check' && drift.length > 0 ? 1 : 0;
  } finally {
    await admin.close();
  }
}

/** `bitpredict replay`: publishes the configured file once and exits (Ctrl-C stops between batches). */
export async function replay(ctx: CommandContext): Promise<number> {
  const { config, logger } = ctx;
  // A missing file is reported before anything connects.
  resolveDataFile(config.data.dir, config.replay.file);
  return runOneShot(ctx, 'replay', ({ platform, producer, signal }) =>
    runReplay({
      platform,
      config,
      producer,
      file: config.replay.file,
      symbol: config.replay.symbol,
      interval: config.replay.interval,
      rate: config.replay.rate,
      from: config.replay.from,
      to: config.replay.to,
      limit: config.replay.limit,
      resume: config.replay.resume,
      ...(config.replay.speedFactor > 0 ? { speedFactor: config.replay.speedFactor } : {}),
      signal,
      onProgress: (p) => {
        if (p.published % 10000 < 1000 || config.replay.rate > 0) logger.debug({ published: p.published }, 'replay progress');
      },
    }),
  );
}

export const sentiment = (ctx: CommandContext): Promise<number> =>
  runWorker(ctx, 'sentiment', async (d) =>
    (await import('../processors/sentiment/service.js')).createSentimentProcessor({ platform: d.platform, config: ctx.config, onFatal: d.onFatal }),
  );

export const trainer = (ctx: CommandContext): Promise<number> =>
  runWorker(ctx, 'trainer', async (d) =>
    (await import('../trainer/service.js')).createTrainerService({ platform: d.platform, config: ctx.config, redis: d.redis, onFatal: d.onFatal }),
  );
