// `npm run demo`: the whole system in one command on the real local stack. Starts Kafka, the
// registry and Redis (unless they already run), recreates the demo's own topics (prefix "demo."),
// starts the gateway, the feature and sentiment processors and the predictor in this process,
// replays the real texts, then the real Binance hourly candles (history as fast as possible, then
// the last stretch at a watchable rate), and serves predictions over WebSocket until Ctrl-C.
// It serves the baselines (persistence, EWMA, HAR-RV, GARCH) from the start; once the history is
// replayed it trains a first small model in the background (cli/demo-train.ts; --no-train skips
// it) and serves that model beside the baselines only if it beats them on validation.
// Ctrl-C stops the services, then the servers the demo started itself, and leaves no process
// behind.
import { redactUrl } from '../core/connection-security.js';
import { parseFlags, UsageError } from './flags.js';
import { DEMO_FLAGS } from './specs.js';
import type { CommandContext } from './context.js';
import { startCommandTracing } from './tracing.js';
import { createStack } from './stack/stack.js';
import { repoRoot } from './stack/command.js';
import { loadConfig, type Config } from '../core/config.js';
import { loadStackConfig, type StackConfig } from './stack/config.js';
import { createLifecycle, type Lifecycle } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas, type Platform } from '../core/runtime.js';
import { createRedis, type Redis } from '../core/redis.js';
import { createAdmin } from '../core/kafka/client.js';
import { KEEP_ALL_RETENTION, topicSpecs } from '../core/kafka/topics.js';
import { createProducer, type Producer } from '../core/kafka/producer.js';
import type { BitPredictError } from '../core/errors.js';
import { createFeatureProcessor } from '../processors/features/service.js';
import { createSentimentProcessor } from '../processors/sentiment/service.js';
import { runTextReplay } from '../producers/text/replay.js';
import { createPredictor } from '../processors/predictor/service.js';
import { createGateway, type GatewayService } from '../gateway/service.js';
import { runReplay } from '../producers/replay/service.js';
import { intervalMs } from '../core/domain/intervals.js';
import { startFirstModel } from './demo-train.js';
import { prepareDemoData, type DemoData, type FetchCandles } from './demo-data.js';

type Say = (line: string) => void;

interface DemoOptions {
  /** Candles before this time are replayed as fast as possible, the rest at `rate` candles/s. */
  readonly liveFrom: number;
  readonly rate: number;
  readonly keepStack: boolean;
  readonly exitAfterReplay: boolean;
  /** Skip the first model's training: the demo serves the baselines only. */
  readonly noTrain: boolean;
  /** Whether --live-from was given (a fetched history moves the default to its last two days). */
  readonly liveFromGiven: boolean;
  readonly fetch: boolean;
  readonly fetchDays: number;
  readonly fetchFile: string | undefined;
  readonly noTexts: boolean;
  readonly textFiles: readonly string[];
}

/** What the steps after start-up share: the demo's config, its platform and the abort of the replay. */
interface DemoRun {
  readonly config: Config;
  readonly platform: Platform;
  readonly producer: Producer;
  readonly signal: AbortSignal;
  readonly say: Say;
  readonly data: DemoData;
}

/** The flags as options; a UsageError for a value that makes no sense. */
function parseDemoArgs(args: string[]): DemoOptions {
  const { values } = parseFlags(DEMO_FLAGS, args);
  const liveFrom = Date.parse(values['live-from']);
  const rate = Number(values.rate);
  if (Number.isNaN(liveFrom)) throw new UsageError(`--live-from: "${values['live-from']}" is not an ISO 8601 time`);
  if (!(rate > 0)) throw new UsageError(`--rate: "${values.rate}" is not a number of candles per second > 0`);
  const fetchDays = Number(values['fetch-days']);
  if (!Number.isInteger(fetchDays) || fetchDays < 1) throw new UsageError(`--fetch-days: "${values['fetch-days']}" is not a whole number of days >= 1`);
  return {
    liveFrom,
    rate,
    keepStack: values['keep-stack'],
    exitAfterReplay: values['exit-after-replay'],
    noTrain: values['no-train'],
    liveFromGiven: args.some((a) => a === '--live-from' || a.startsWith('--live-from=')),
    fetch: values.fetch,
    fetchDays,
    fetchFile: values['fetch-file'],
    noTexts: values['no-texts'],
    textFiles: values['text-file'] ?? [],
  };
}

function demoConfig(env: CommandContext['env']): Config {
  // The demo keeps its topics and Redis keys apart from anything else on the same stack.
  return loadConfig(env, {
    BITPREDICT_TOPIC_PREFIX: env.BITPREDICT_TOPIC_PREFIX ?? 'demo.',
    BITPREDICT_REDIS_KEY_PREFIX: env.BITPREDICT_REDIS_KEY_PREFIX ?? 'bp:demo:',
    // The demo replays history older than the retention horizons into its own topics: keep it.
    BITPREDICT_TOPIC_RETENTION_DAYS: env.BITPREDICT_TOPIC_RETENTION_DAYS ?? KEEP_ALL_RETENTION,
    // A local demo: the dashboard works without an API key (the gateway logs a warning saying so),
    // and the gateway is ready with baseline predictions when no champion model has been trained.
    BITPREDICT_GATEWAY_AUTH: env.BITPREDICT_GATEWAY_AUTH ?? 'open',
    BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: env.BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION ?? 'true',
  });
}

/**
 * Brings the local stack up, reusing the servers that already run, and registers its stop: at
 * shutdown the demo runs `down` only when it started a server itself and --keep-stack is not
 * set, so a stack that was already up before the demo (and may serve others) keeps running.
 */
async function upStack(o: { stackConfig: StackConfig; logger: Logger; lifecycle: Lifecycle; keepStack: boolean; say: Say }): Promise<void> {
  const { say } = o;
  const stack = createStack({ config: o.stackConfig, logger: o.logger, rootDir: repoRoot(), progress: say, javaHome: o.stackConfig.stack.javaHome });
  say('starting the local stack (Kafka, Apicurio Registry, Redis)...');
  const status = await stack.up();
  const startedHere = status.services.filter((s) => s.action === 'started').map((s) => s.name);
  o.lifecycle.onShutdown('stop the local stack', async () => {
    if (o.keepStack || startedHere.length === 0) {
      say('leaving the stack running (it was already running before the demo, or --keep-stack)');
      return;
    }
    say('stopping the local stack...');
    await stack.down();
  });
}

/** Ctrl-C and SIGTERM abort the replay and run the ordered shutdown. */
function stopOnSignals(lifecycle: Lifecycle, abort: AbortController, say: Say): void {
  process.once('SIGINT', () => {
    say('Ctrl-C: shutting down...');
    abort.abort();
    void lifecycle.shutdown('SIGINT');
  });
  process.once('SIGTERM', () => {
    abort.abort();
    void lifecycle.shutdown('SIGTERM');
  });
}

/**
 * Fresh topics per run: the replay starts from the first candle again, and a processor group
 * that remembered the previous run's offsets would see the new run as duplicates.
 */
async function resetTopics(platform: Platform, config: Config, say: Say): Promise<void> {
  const admin = await createAdmin(platform.kafka);
  const demoTopics = topicSpecs({
    prefix: config.kafka.topicPrefix,
    partitions: config.kafka.partitions,
    replicationFactor: config.kafka.replicationFactor,
  }).map((t) => t.name);
  const existing = new Set(await admin.listTopics());
  const stale = demoTopics.filter((t) => existing.has(t));
  if (stale.length > 0) {
    say(`deleting the previous demo topics (${stale.length})...`);
    await admin.deleteTopics(stale);
    for (let i = 0; i < 50 && (await admin.listTopics()).some((t) => stale.includes(t)); i++) await new Promise((r) => setTimeout(r, 200));
  }
  await admin.close();
  await prepareTopicsAndSchemas(platform, config.kafka);
  say(`topics ready with prefix "${config.kafka.topicPrefix}", schemas registered at ${redactUrl(config.registry.url, { dropUser: true })}`);
}

/** The demo's Redis keys start empty too, like its topics. */
async function resetRedis(config: Config, logger: Logger, lifecycle: Lifecycle): Promise<Redis> {
  const redis = await createRedis({ config: config.redis, logger });
  lifecycle.onShutdown('close redis', async () => {
    await redis.quit();
  });
  const stale = await redis.keys(`${config.redis.keyPrefix}*`);
  if (stale.length > 0) await redis.del(...stale);
  return redis;
}

/**
 * The replay producer and the four services, in this process. Their stop steps are registered
 * in this order, so shutdown first aborts the replay, then stops the services in reverse, and
 * closes the producer after the last of them.
 */
async function startServices(o: {
  platform: Platform;
  config: Config;
  redis: Redis;
  lifecycle: Lifecycle;
  abort: AbortController;
  onFatal: (err: BitPredictError) => void;
}): Promise<{ producer: Producer; gateway: GatewayService }> {
  const { platform, config, redis, lifecycle, onFatal } = o;
  const producer = await createProducer(platform.kafka);
  lifecycle.onShutdown('close replay producer', () => producer.close());
  const gateway = await createGateway({ platform, config, redis, onFatal });
  lifecycle.onShutdown('stop gateway', () => gateway.stop());
  const features = await createFeatureProcessor({ platform, config, redis, onFatal });
  lifecycle.onShutdown('stop features', () => features.stop());
  const predictor = await createPredictor({ platform, config, redis, onFatal });
  lifecycle.onShutdown('stop predictor', () => predictor.stop());
  const sentiment = await createSentimentProcessor({ platform, config, onFatal });
  lifecycle.onShutdown('stop sentiment', () => sentiment.stop());
  lifecycle.onShutdown('stop replay', () => o.abort.abort());

  await gateway.start();
  await features.start();
  await predictor.start();
  await sentiment.start();
  for (let i = 0; i < 300 && !(gateway.readiness().ready && features.readiness().ready && predictor.readiness().ready && sentiment.readiness().ready); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  lifecycle.setReady(true);
  return { producer, gateway };
}

function printBanner(url: string, config: Config, say: Say): void {
  say(`dashboard:  ${url}/`);
  say(`websocket:  ${url.replace(/^http/, 'ws')}/ws  (send {"op":"subscribe","channel":"predictions:${config.replay.symbol}"})`);
  say(`rest:       ${url}/v1/predictions/latest?symbol=${config.replay.symbol}   (OpenAPI: ${url}/v1/openapi.json)`);
  say(`metrics:    ${url}/metrics   health: ${url}/healthz ${url}/readyz`);
  if (config.gateway.auth === 'open') say('the gateway runs in open mode (no API key needed): fine here, never in production (docs/gateway.md)');
}

/**
 * Texts first: the real news (2021-10 .. 2022-07), news descriptions (2021-11 .. 2023-12), CoinDesk
 * headlines (2013 .. 2025-06, sparse) and tweets (2025-08 .. 09) are replayed into text.raw and
 * scored before the candles start, so the features of those periods carry their sentiment (the
 * feature join waits for the text stream, and here it is already complete).
 */
async function replayTexts(run: DemoRun): Promise<void> {
  const { platform, config, producer, signal, say } = run;
  if (run.data.textFiles.length === 0) return;
  for (const textFile of run.data.textFiles) {
    if (signal.aborted) break;
    const s = await runTextReplay({ platform, config, producer, file: textFile, rate: 0, signal });
    const excluded = s.excluded.map((e) => `, ${e.rows} excluded (${e.reason})`).join('');
    say(`texts: ${s.published} items from ${textFile} into text.raw (${s.deadLettered} to the DLQ, ${s.duplicates} duplicates dropped${excluded})`);
  }
  await waitForScoring(platform, signal);
  say('texts scored (VADER; FinBERT too when BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR names a model folder)');
}

/** Until the sentiment group has read all of text.raw (at most a minute), or the demo stops. */
async function waitForScoring(platform: Platform, signal: AbortSignal): Promise<void> {
  const admin = await createAdmin(platform.kafka);
  try {
    const group = platform.kafka.groupId('sentiment');
    const rawTopic = platform.kafka.topic('textRaw');
    for (let i = 0; i < 600 && !signal.aborted; i++) {
      const lag = await admin.groupLag(group, rawTopic);
      if (lag.every((p) => p.lag === 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.close();
  }
}

/**
 * The candle history up to --live-from as fast as possible, then the rest at --rate candles/s;
 * `afterHistory` runs between the two (it starts the first model's training in the background).
 */
async function replayCandles(run: DemoRun, opts: DemoOptions, afterHistory: (historyEnd: number) => Promise<void>): Promise<void> {
  const { platform, config, producer, signal, say } = run;
  const { liveFrom, rate } = opts;
  const file = run.data.candleFile;
  say(`replaying ${file} up to ${new Date(liveFrom).toISOString()} as fast as possible...`);
  let lastReport = Date.now();
  const history = await runReplay({
    platform,
    config,
    producer,
    file,
    symbol: config.replay.symbol,
    interval: config.replay.interval,
    rate: 0,
    from: config.replay.from,
    to: liveFrom,
    columns: config.replay.columns,
    signal,
    onProgress: (p) => {
      if (Date.now() - lastReport > 2000) {
        lastReport = Date.now();
        say(`  ${p.published} candles published (last ${p.lastOpenTime ? new Date(p.lastOpenTime).toISOString() : '-'})`);
      }
    },
  });
  say(`history: ${history.published} candles in ${history.seconds.toFixed(1)} s, ${history.gaps} gaps kept as gaps, ${history.deadLettered} rows to the DLQ`);
  if (!signal.aborted) await afterHistory(config.replay.to === null ? liveFrom : Math.min(liveFrom, config.replay.to));
  if (!signal.aborted) {
    say(`now replaying from ${new Date(liveFrom).toISOString()} at ${rate} candles/s; predictions stream to the dashboard. Ctrl-C to stop.`);
    const live = await runReplay({
      platform,
      config,
      producer,
      file,
      symbol: config.replay.symbol,
      interval: config.replay.interval,
      rate,
      from: liveFrom,
      columns: config.replay.columns,
      dropLast: config.replay.dropLast,
      signal,
    });
    if (live.droppedLastRow !== null) say(live.droppedLastRow);
    if (!live.aborted) say(`replay finished: ${live.published} more candles. Still serving; Ctrl-C to stop.`);
  }
}

/** --live-from inside a fetched history: its last two days at --rate unless the flag was given. */
function liveFromFor(opts: DemoOptions, data: DemoData, intervalMs: number, say: Say): DemoOptions {
  const last = data.fetched?.last ?? null;
  if (last === null || opts.liveFromGiven) return opts;
  const liveFrom = Math.max(data.fetched?.first ?? last, last - 48 * intervalMs);
  say(`the fetched candles end ${new Date(last).toISOString()}: replaying from ${new Date(liveFrom).toISOString()} at --rate (set --live-from to choose)`);
  return { ...opts, liveFrom };
}

/** The candle fetch of `bitpredict data fetch`, loaded only when the demo fetches. */
const fetchCandles: FetchCandles = async (o) => (await import('./demo-fetch.js')).fetchForDemo(o);

export async function demo(ctx: CommandContext): Promise<number> {
  const say: Say = (line) => ctx.output.line(`[demo] ${line}`);
  const parsed = parseDemoArgs(ctx.args);
  const config = demoConfig(ctx.env);
  // Every file first: nothing starts (no stack, no topics, no banner) for a demo that cannot replay.
  const data = await prepareDemoData({
    config,
    env: ctx.env,
    cwd: process.cwd(),
    fetch: parsed.fetch,
    fetchDays: parsed.fetchDays,
    fetchFile: parsed.fetchFile,
    textFiles: parsed.textFiles,
    noTexts: parsed.noTexts,
    now: Date.now(),
    signal: new AbortController().signal,
    say,
    fetchCandles,
  });
  const opts = liveFromFor(parsed, data, intervalMs(config.replay.interval), say);
  const stackConfig = loadStackConfig(ctx.env);
  const logger = ctx.logger;
  const lifecycle = createLifecycle({ logger, timeoutMs: Math.max(config.lifecycle.shutdownTimeoutMs, 60_000) });
  const abort = new AbortController();
  lifecycle.onShutdown('flush logs', () => logger.flush());

  await upStack({ stackConfig, logger, lifecycle, keepStack: opts.keepStack, say });
  let exitCode = 0;
  stopOnSignals(lifecycle, abort, say);
  const onFatal = (err: BitPredictError): void => {
    exitCode = 1;
    say(`fatal: ${err.code}: ${err.message}`);
    abort.abort();
    void lifecycle.shutdown('fatal');
  };

  try {
    const registry = createMetricsRegistry({ service: 'demo' });
    // As the workers do (cli/worker.ts): only with an endpoint, and registered before the services'
    // stops so that it runs after them and the spans of the drain are exported too.
    const tracing = await startCommandTracing(config, 'demo', registry, logger);
    if (tracing) {
      lifecycle.onShutdown('export traces', () => tracing.shutdown());
      say(`tracing on: spans go to ${redactUrl(tracing.url, { dropUser: true })}`);
    }
    const platform = createPlatform({ config, logger, registry, clientId: 'demo', ...(tracing ? { tracer: tracing.tracer } : {}) });
    await resetTopics(platform, config, say);
    const redis = await resetRedis(config, logger, lifecycle);
    const { producer, gateway } = await startServices({ platform, config, redis, lifecycle, abort, onFatal });
    printBanner(gateway.url(), config, say);
    const run: DemoRun = { config, platform, producer, signal: abort.signal, say, data };
    say('serving the baselines (persistence, EWMA, HAR-RV, GARCH) from the start; a model joins them only if it beats them on validation');
    await replayTexts(run);
    await replayCandles(run, opts, async (historyEnd) => {
      if (opts.noTrain) say('not training a first model (--no-train): the demo serves the baselines only');
      else await startFirstModel({ platform, config, lifecycle, signal: abort.signal, historyEnd, say });
    });
    if (opts.exitAfterReplay && !abort.signal.aborted) {
      // Let the pipeline drain the last candles before stopping.
      await new Promise((r) => setTimeout(r, 3000));
      void lifecycle.shutdown('replay finished (--exit-after-replay)');
    }
  } catch (err) {
    exitCode = 1;
    void lifecycle.shutdown('startup failed');
    await lifecycle.done;
    throw err;
  }
  const ok = await lifecycle.done;
  say(ok ? 'stopped cleanly' : 'stopped, but some shutdown steps failed (see the log)');
  return ok ? exitCode : 1;
}
