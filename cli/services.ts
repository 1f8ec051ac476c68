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
import { SHARED_CONSUMERS, topicConfigDrift } from '../core/kafka/topics.js';
import { createAdmin, type KafkaAdmin, type KafkaClient } from '../core/kafka/client.js';
import { formatTable } from './output.js';

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
  const unknown = flags.filter((f) => !((f === '--alter' && sub === 'create') || (f === '--json' && sub === 'list')));
  if (!['create', 'check', 'list'].includes(sub) || unknown.length > 0) {
    ctx.output.error('usage: bitpredict topics create [--alter] | check | list [--json]');
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
      const rows = await topicRows(admin, platform.kafka);
      if (flags.includes('--json')) ctx.output.json({ topics: rows });
      else ctx.output.text(formatTopicRows(rows));
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

/** One topic as `topics list` shows it: offsets summed over its partitions, and each shared group's lag on it. */
export interface TopicRow {
  topic: string;
  partitions: number;
  /** Sum over partitions of the first offset still in the log (after retention or compaction). */
  firstOffset: number;
  /** Sum over partitions of the end offset (the next offset to be written). */
  endOffset: number;
  /** end - first: the records the log holds, transaction markers included. */
  records: number;
  /** The shared groups that read the topic (SHARED_CONSUMERS), with their lag; null when the group never committed. */
  groups: { group: string; lag: number | null }[];
}

/**
 * Every topic of this environment (named with BITPREDICT_TOPIC_PREFIX) with its partitions,
 * offsets and the lag of the shared groups reading it.
 */
export async function topicRows(admin: KafkaAdmin, client: KafkaClient): Promise<TopicRow[]> {
  const readers = new Map<string, string[]>();
  for (const c of SHARED_CONSUMERS) for (const t of c.topics) readers.set(client.topic(t), [...(readers.get(client.topic(t)) ?? []), c.group]);
  const rows: TopicRow[] = [];
  for (const topic of (await admin.listTopics()).filter((t) => t.startsWith(client.topicPrefix)).sort()) {
    const ends = await admin.endOffsets(topic);
    // The earliest offset at or after time 0 is the log start of each partition.
    const starts = new Map((await admin.offsetsForTime(topic, 0)).map((o) => [o.partition, Number(o.offset)]));
    let firstOffset = 0;
    let endOffset = 0;
    for (const e of ends) {
      const end = Number(e.offset);
      const start = starts.get(e.partition);
      endOffset += end;
      firstOffset += start === undefined || start < 0 ? end : start;
    }
    const groups: TopicRow['groups'] = [];
    for (const name of readers.get(topic) ?? []) {
      const lag = await admin.groupLag(client.groupId(name), topic);
      const committed = lag.filter((p) => p.committed !== '-1');
      groups.push({ group: name, lag: committed.length === 0 ? null : lag.reduce((n, p) => n + p.lag, 0) });
    }
    rows.push({ topic, partitions: ends.length, firstOffset, endOffset, records: endOffset - firstOffset, groups });
  }
  return rows;
}

/** The rows as a table: a group that never committed shows "-" for its lag. */
export function formatTopicRows(rows: readonly TopicRow[]): string {
  return formatTable([
    ['topic', 'partitions', 'first offset', 'end offset', 'records', 'groups (lag)'],
    ...rows.map((r) => [
      r.topic,
      String(r.partitions),
      String(r.firstOffset),
      String(r.endOffset),
      String(r.records),
      r.groups.map((g) => `${g.group} ${g.lag ?? '-'}`).join(', '),
    ]),
  ]);
}

/** `bitpredict replay`: publishes the configured file once and exits (Ctrl-C stops between batches). */
export async function replay(ctx: CommandContext): Promise<number> {
  const { config, logger } = ctx;
  // A missing file is reported before anything connects.
  resolveDataFile(config.data.dir, config.replay.file, { setting: 'BITPREDICT_REPLAY_FILE' });
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
      columns: config.replay.columns,
      dropLast: config.replay.dropLast,
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
