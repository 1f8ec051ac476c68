import { loadConfig, type Config, type ConfigKey } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas, type Platform } from '../core/runtime.js';
import { createAdmin } from '../core/kafka/client.js';
import { KEEP_ALL_RETENTION, topicSpecs } from '../core/kafka/topics.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadTf } from '../core/models/tf.js';
import { buildModel, MODEL_DEFAULTS } from '../core/models/model.js';
import { gaussianForecastBlock } from '../core/models/head.js';
import { artifactDir, saveArtifact, type ArtifactMeta } from '../core/models/artifact.js';
import { FEATURE_NAMES, type Normalizer } from '../core/models/domain/dataset.js';
import kafkajs from 'kafkajs';
import { Consumer as PltConsumer, Producer as PltProducer, ProduceAcks, type ConsumerOptions, type ProducerOptions } from '@platformatic/kafka';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../', import.meta.url)));

export const progress = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

export async function benchPlatform(
  label: string,
  overrides: Partial<Record<ConfigKey, string>> = {},
): Promise<{ platform: Platform; config: Config; prefix: string; cleanup(): Promise<void> }> {
  const prefix = `bench.${label}.${Date.now().toString(36)}.`;
  const config = loadConfig(process.env, {
    BITPREDICT_TOPIC_PREFIX: prefix,
    BITPREDICT_REDIS_KEY_PREFIX: `bp:bench:${prefix}`,
    BITPREDICT_DATA_DIR: process.env.BITPREDICT_DATA_DIR ?? resolve(REPO_ROOT, '../shared/data'),
    BITPREDICT_LOG_LEVEL: process.env.BITPREDICT_LOG_LEVEL ?? 'warn',
    BITPREDICT_TOPIC_PARTITIONS: '1',
    // Benchmarks replay history older than the retention horizons (docs/topics.md).
    BITPREDICT_TOPIC_RETENTION_DAYS: KEEP_ALL_RETENTION,
    ...overrides,
  });
  const logger = createLogger({ level: config.logLevel, name: `bench-${label}`, destination: process.stderr });
  const platform = createPlatform({
    config,
    logger,
    registry: createMetricsRegistry({ service: `bench-${label}`, defaultMetrics: false }),
    clientId: `bench-${label}`,
  });
  await prepareTopicsAndSchemas(platform, config.kafka);
  return {
    platform,
    config,
    prefix,
    async cleanup() {
      const admin = await createAdmin(platform.kafka);
      await admin.deleteTopics(topicSpecs({ prefix, partitions: 1, replicationFactor: 1 }).map((t) => t.name)).catch(() => undefined);
      await admin.close();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export const median = (xs: number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/**
 * A bare kafkajs client on the platform's brokers, for the raw baselines benchmarks measure the
 * project against (and for the benches' own measuring consumers). Only core/kafka and bench/ import
 * kafkajs: a baseline must not go through the code it is the baseline of.
 */
export function rawKafkaJs(platform: Platform, label: string): InstanceType<typeof kafkajs.Kafka> {
  return new kafkajs.Kafka({ clientId: `bench-raw-${label}`, brokers: platform.kafka.brokers, logLevel: kafkajs.logLevel.NOTHING });
}

/** The Kafka client drivers a bench can run the code under test on (core/kafka/driver.ts). */
export const BENCH_DRIVERS = ['kafkajs', 'platformatic'] as const;
export type BenchDriver = (typeof BENCH_DRIVERS)[number];

/**
 * The drivers named by `--driver kafkajs|platformatic|both` (or `--driver=...`) after the bench
 * name; both when the flag is absent. The code under test gets its driver through config
 * (BITPREDICT_KAFKA_CLIENT in benchPlatform's overrides), never by importing one.
 */
export function driversFromArgs(argv: string[] = process.argv.slice(3)): BenchDriver[] {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--driver') value = argv[i + 1];
    else if (a.startsWith('--driver=')) value = a.slice('--driver='.length);
  }
  if (value === undefined || value === 'both') return [...BENCH_DRIVERS];
  if ((BENCH_DRIVERS as readonly string[]).includes(value)) return [value as BenchDriver];
  throw new Error(`--driver ${value}: use kafkajs, platformatic or both`);
}

/** `BITPREDICT_KAFKA_CLIENT` for benchPlatform's overrides. */
export const driverOverride = (driver: BenchDriver): Partial<Record<ConfigKey, string>> => ({ BITPREDICT_KAFKA_CLIENT: driver });

/**
 * A bare @platformatic/kafka producer on the platform's brokers (idempotent, acks=all, Java's
 * murmur2 partitioning is not needed by the baselines), for raw baselines like rawKafkaJs.
 */
export function rawPlatformaticProducer(platform: Platform, label: string, extra: Partial<ProducerOptions<Buffer, Buffer, Buffer, Buffer>> = {}): PltProducer {
  return new PltProducer({
    clientId: `bench-raw-plt-${label}`,
    bootstrapBrokers: platform.kafka.brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
    ...extra,
  });
}

/** A bare @platformatic/kafka consumer on the platform's brokers, for raw baselines. */
export function rawPlatformaticConsumer(
  platform: Platform,
  label: string,
  groupId: string,
  extra: Partial<ConsumerOptions<Buffer, Buffer, Buffer, Buffer>> = {},
): PltConsumer {
  return new PltConsumer({ clientId: `bench-raw-plt-${label}`, bootstrapBrokers: platform.kafka.brokers, groupId, ...extra });
}

/**
 * Saves the default LSTM-attention architecture (T, MODEL_DEFAULTS units and attention) with seeded
 * untrained weights as a real artifact in a fresh temp store: its inference costs what a trained
 * model's does (the arithmetic does not depend on the weights' values), and no training run is needed.
 */
export async function saveUntrainedModel(o: {
  version: string;
  T: number;
  horizons: number[];
  normalizer?: Normalizer;
  trainedFrom: number;
  trainedTo: number;
}): Promise<{ store: string; meta: ArtifactMeta; dir: string }> {
  const { tf } = await loadTf();
  const store = await mkdtemp(join(tmpdir(), `bp-bench-${o.version}-`));
  const F = FEATURE_NAMES.length;
  const model = buildModel(tf, { T: o.T, F, H: o.horizons.length, units: MODEL_DEFAULTS.units, attentionUnits: MODEL_DEFAULTS.attentionUnits, seed: 7 });
  const meta: ArtifactMeta = {
    name: 'lstm-attention',
    version: o.version,
    featureSetVersion: 'fs-2',
    featureColumns: [...FEATURE_NAMES],
    normalizer: o.normalizer ?? { columns: [...FEATURE_NAMES], mean: FEATURE_NAMES.map(() => 0), std: FEATURE_NAMES.map(() => 1) },
    T: o.T,
    F,
    forecast: gaussianForecastBlock(o.horizons),
    trainedFrom: o.trainedFrom,
    trainedTo: o.trainedTo,
    metrics: {},
    backend: 'cpu',
    codeVersion: 'bench',
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: null,
    seed: 7,
    hyperparameters: { units: MODEL_DEFAULTS.units, attentionUnits: MODEL_DEFAULTS.attentionUnits },
  };
  await saveArtifact(tf, model, meta, store);
  model.dispose();
  return { store, meta, dir: artifactDir(store, meta.name, meta.version) };
}
