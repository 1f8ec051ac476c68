// The whole pipeline as CLI processes on a test platform, for the chaos scenarios that kill its
// services (service-kills) or take the stack away under them (stack-restart): the environment the
// children share, the texts fed to text.raw, what an uninterrupted run publishes, and the count
// of lost and duplicated records in every output topic (read committed).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DIR, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { KEEP_ALL_RETENTION } from '../../core/kafka/topics.js';
import type { Producer } from '../../core/kafka/producer.js';
import type { TextItem } from '../../schemas/types.js';
import { countLoss, expectedPredictionIds, type LossCount } from './chaos-a-common.js';
import { inheritedEnv, serviceProcess, type ServiceProcess } from './chaos-a-services.js';
import { freePort } from '../helpers/local-servers.js';

export const HOUR = 3_600_000;

/** What the children share: the test platform's prefixes, exactly-once, and a replay of [from, to) at `rate` candles/s. */
export function pipelineEnv(tp: TestPlatform, replay: { from: number; to: number; rate: number }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...inheritedEnv(),
    ...extra,
    BITPREDICT_TOPIC_PREFIX: tp.prefix,
    BITPREDICT_REDIS_KEY_PREFIX: tp.config.redis.keyPrefix,
    BITPREDICT_KAFKA_CLIENT_ID: tp.config.kafka.clientId,
    BITPREDICT_KAFKA_CLIENT: tp.config.kafka.driver,
    BITPREDICT_DATA_DIR: DATA_DIR,
    BITPREDICT_TOPIC_RETENTION_DAYS: KEEP_ALL_RETENTION,
    BITPREDICT_PROCESSING_GUARANTEE: 'exactly-once',
    BITPREDICT_STATE_SNAPSHOT_INTERVAL_MS: '300',
    // A SIGKILLed member keeps its partitions until its session expires (the broker's minimum).
    BITPREDICT_CONSUMER_SESSION_TIMEOUT_MS: '6000',
    BITPREDICT_LOG_LEVEL: 'warn',
    BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true',
    BITPREDICT_RETRAIN_INTERVAL_MS: '0',
    BITPREDICT_REPLAY_FILE: HOURLY_MERGED,
    BITPREDICT_REPLAY_SYMBOL: 'BTCUSDT',
    BITPREDICT_REPLAY_INTERVAL: '1h',
    BITPREDICT_REPLAY_FROM: new Date(replay.from).toISOString(),
    BITPREDICT_REPLAY_TO: new Date(replay.to).toISOString(),
    BITPREDICT_REPLAY_RATE: String(replay.rate),
    BITPREDICT_REPLAY_RESUME: 'true',
  };
}

/** A long-running service on a free port: its health server, or the gateway's own port. */
export async function workerProcess(name: string, env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const own: Record<string, string> =
    name === 'gateway' ? { BITPREDICT_GATEWAY_PORT: String(port), BITPREDICT_GATEWAY_HOST: '127.0.0.1' } : { BITPREDICT_HEALTH_PORT: String(port) };
  return serviceProcess({ name, command: name, env: { ...env, ...own }, port });
}

export async function allReady(workers: readonly ServiceProcess[]): Promise<boolean[]> {
  return Promise.all(workers.map((w) => w.ready()));
}

/** The last output of every process, for a failure message. */
export function tails(procs: readonly ServiceProcess[]): string {
  return procs.map((p) => `--- ${p.name} (exits ${p.exits.join(',') || 'none'})\n${p.tail(4000)}`).join('\n');
}

/** Waits until every worker answers ready; on timeout the error has each one's /readyz and output. */
export async function waitAllReady(workers: readonly ServiceProcess[], procs: readonly ServiceProcess[], what: string, timeoutMs: number): Promise<void> {
  try {
    await waitFor(async () => (await allReady(workers)).every(Boolean), what, timeoutMs);
  } catch (e) {
    const answers = await Promise.all(workers.map(async (w) => `${w.name}: ${await w.readyz()}`));
    throw new Error(`${String(e)}\n${answers.join('\n')}\n${tails(procs)}`);
  }
}

/** Starts the workers and waits until every one answers ready. */
export async function startWorkers(workers: readonly ServiceProcess[], procs: readonly ServiceProcess[]): Promise<void> {
  for (const w of workers) w.start();
  await waitAllReady(workers, procs, 'every service ready at start', 120_000);
}

/** `count` tweets spread over [from, from + spanMs), alternately bullish and bearish. */
export function chaosTexts(label: string, count: number, from: number, spanMs: number): TextItem[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${label}-${i}`,
    source: 'replay:chaos',
    sourceId: String(i),
    kind: 'tweet',
    publishedAt: from + Math.floor((i / count) * spanMs) + 777,
    title: null,
    text: i % 2 === 0 ? 'Bitcoin soars, bulls everywhere' : 'BTC dumps, fear in the market',
    url: null,
    author: null,
    ingestedAt: Date.now(),
  }));
}

export async function sendTexts(tp: TestPlatform, producer: Producer, texts: readonly TextItem[]): Promise<void> {
  await producer.send(texts.map((x) => ({ topic: tp.topic('textRaw'), key: x.id, value: tp.platform.serde.encode('textRaw', x), timestamp: x.publishedAt })));
}

/** Open times of the file's candles in [from, to): what an uninterrupted replay publishes. */
export function fileOpenTimes(from: number, to: number): number[] {
  const lines = readFileSync(join(DATA_DIR, HOURLY_MERGED), 'utf8').split('\n').slice(1);
  const times = new Set<number>();
  for (const line of lines) {
    const t = Number(line.slice(0, line.indexOf(',')));
    if (Number.isSafeInteger(t) && t >= from && t < to) times.add(t);
  }
  return [...times].sort((a, b) => a - b);
}

/** Runs the one-shot replay again until it has done its range (a Job's restart policy). Returns the runs. */
export async function replayToEnd(replay: ServiceProcess): Promise<number> {
  let runs = 1;
  while ((await replay.exited()) !== 0) {
    if (runs > 4) throw new Error(`replay keeps failing\n${replay.tail()}`);
    replay.start();
    runs++;
  }
  return runs;
}

export interface OutputLoss {
  byTopic: Record<'candles' | 'textScored' | 'features' | 'predictions', LossCount>;
  lost: number;
  duplicated: number;
  /** Records read from the four output topics. */
  records: number;
  dlq: string[];
}

/**
 * Waits (up to waitMs per output; 0: not at all) until the pipeline has processed the replay of
 * [from, to) and the texts, then counts lost and duplicated records in market.candles,
 * text.scored, features and predictions.
 */
export async function outputLoss(tp: TestPlatform, from: number, to: number, texts: readonly TextItem[], opts: { waitMs?: number } = {}): Promise<OutputLoss> {
  const waitMs = opts.waitMs ?? 120_000;
  const times = fileOpenTimes(from, to);
  const want = {
    candles: times.map((t) => `BTCUSDT:1h@${t}`),
    features: times.map((t) => `BTCUSDT:1h@${t + HOUR}`),
    texts: texts.map((x) => x.id),
  };
  // A read that times out (a transaction left open by a dead producer holds read_committed readers
  // back until it is aborted) counts as "not there yet", and in the end as not delivered.
  const read = async <T extends 'candles' | 'features' | 'textScored' | 'predictions' | 'dlq'>(t: T) => tp.readAll(t).catch(() => []);
  if (waitMs > 0) {
    await waitFor(async () => (await read('features')).length >= want.features.length, 'every feature', waitMs);
    await waitFor(async () => (await read('textScored')).length >= want.texts.length, 'every scored text', waitMs);
    const lastTime = (times.at(-1) ?? 0) + HOUR;
    await waitFor(async () => (await read('predictions')).some((p) => p.value?.eventTime === lastTime), "the last candle's predictions", waitMs);
  }
  const got = {
    candles: (await read('candles')).map((r) => `${r.key}@${r.value?.openTime}`),
    features: (await read('features')).map((r) => `${r.key}@${r.value?.eventTime}`),
    texts: (await read('textScored')).map((r) => r.value?.id ?? 'undecodable'),
    predictions: (await read('predictions')).map((r) => `${r.value?.eventTime}|${r.value?.modelName}`),
  };
  const byTopic = {
    candles: countLoss(want.candles, got.candles),
    textScored: countLoss(want.texts, got.texts),
    features: countLoss(want.features, got.features),
    predictions: countLoss(
      expectedPredictionIds(
        times.map((t) => t + HOUR),
        got.predictions,
      ),
      got.predictions,
    ),
  };
  const dlq = (await read('dlq')).map((d) => `${d.value?.source}: ${d.value?.errorCode} ${d.value?.errorMessage}`);
  return {
    byTopic,
    lost: Object.values(byTopic).reduce((n, l) => n + l.lost + l.unexpected, 0),
    duplicated: Object.values(byTopic).reduce((n, l) => n + l.duplicated, 0),
    records: Object.values(got).reduce((n, ids) => n + ids.length, 0),
    dlq,
  };
}
