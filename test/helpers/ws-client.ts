// A queueing WebSocket client for gateway integration tests: every server message is parsed and
// kept in order, so a test can read them one by one (next), skip to the one it wants (waitFor),
// or look at everything received (all). Every wait is bounded.
import WebSocket from 'ws';
import { loadConfig, type Config, type ConfigKey } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import type { Platform } from '../../core/runtime.js';
import type { Producer } from '../../core/kafka/producer.js';
import { createGateway, type GatewayService } from '../../gateway/service.js';
import type { Prediction } from '../../schemas/types.js';
import { DATA_DIR, waitFor, type TestPlatform } from './platform.js';
import { seriesKey } from '../../schemas/keys.js';

export interface ServerMessage {
  type: string;
  channel?: string;
  seq?: number;
  code?: string;
  [key: string]: unknown;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface TestWsClient {
  readonly ws: WebSocket;
  /** Every message received so far, in order. */
  readonly all: ServerMessage[];
  /** Frames that were not JSON objects (the server must never send one). */
  readonly malformed: string[];
  /** Resolves when the connection closes, with the close code. */
  readonly closed: Promise<CloseInfo>;
  readonly isClosed: boolean;
  /** The next unread message. */
  next(timeoutMs?: number): Promise<ServerMessage>;
  /** Reads (and consumes) messages until one matches; the skipped ones stay in `all`. */
  waitFor(pred: (m: ServerMessage) => boolean, what: string, timeoutMs?: number): Promise<ServerMessage>;
  send(value: unknown): void;
  close(): void;
}

export interface ConnectOptions {
  headers?: Record<string, string>;
  /** Milliseconds to wait for the open event. */
  timeoutMs?: number;
}

export function wsUrl(httpUrl: string, query = ''): string {
  return `${httpUrl.replace(/^http/, 'ws')}/ws${query}`;
}

/** Opens a WebSocket and resolves once it is open (rejects on a refused upgrade or a timeout). */
export async function connectWs(url: string, options: ConnectOptions = {}): Promise<TestWsClient> {
  const ws = new WebSocket(url, { headers: options.headers ?? {}, perMessageDeflate: false });
  const all: ServerMessage[] = [];
  const malformed: string[] = [];
  let cursor = 0;
  let isClosed = false;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };

  ws.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as ServerMessage).type === 'string') all.push(v as ServerMessage);
      else malformed.push(text);
    } catch {
      malformed.push(text);
    }
    notify();
  });
  // A socket error (reset, invalid frame) is followed by 'close'; the tests look at the close code.
  ws.on('error', () => undefined);
  const closed = new Promise<CloseInfo>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => {
      isClosed = true;
      notify();
      resolve({ code, reason: reason.toString() });
    });
  });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`WebSocket ${url} did not open in time`)), options.timeoutMs ?? 10_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('unexpected-response', (req, res) => {
      clearTimeout(timer);
      req.destroy();
      reject(new Error(`upgrade refused with HTTP ${res.statusCode ?? '?'}`));
    });
    ws.once('close', () => {
      clearTimeout(timer);
      reject(new Error('WebSocket closed before it opened'));
    });
  });

  async function waitForMessage(pred: (m: ServerMessage) => boolean, what: string, timeoutMs = 10_000): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (cursor < all.length) {
        const m = all[cursor++] as ServerMessage;
        if (pred(m)) return m;
      }
      if (isClosed) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(all.slice(-3)).slice(0, 500)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  return {
    ws,
    all,
    malformed,
    closed,
    get isClosed() {
      return isClosed;
    },
    next: (timeoutMs) => waitForMessage(() => true, 'the next message', timeoutMs),
    waitFor: waitForMessage,
    send(value: unknown) {
      ws.send(typeof value === 'string' ? value : JSON.stringify(value));
    },
    close() {
      if (!isClosed) ws.close();
    },
  };
}

/** Resolves with the close of a connection, or fails after timeoutMs. */
export async function closeOf(c: TestWsClient, what: string, timeoutMs = 10_000): Promise<CloseInfo> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      c.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens a WebSocket that the server is expected to refuse before upgrading: the HTTP status and body. */
export function refusedUpgrade(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade of ${url}`));
    }, timeoutMs);
    ws.on('error', () => undefined);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`upgrade of ${url} was accepted, expected a refusal`));
    });
    ws.once('unexpected-response', (req, res) => {
      clearTimeout(timer);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
}

// ---- Gateway harness: a real gateway service on loopback over a test platform's topics and Redis.

export interface StartedGateway {
  gateway: GatewayService;
  config: Config;
  /** The gateway's own metrics registry. */
  registry: Registry;
  /** Log lines of this gateway, when started with captureLogs. */
  logs: string[];
}

export interface StartGatewayOptions {
  /** Env-style config keys on top of the test platform's (topic and Redis prefixes are kept). */
  overrides?: Partial<Record<ConfigKey, string>>;
  label: string;
  fatal: unknown[];
  /** Keep every log line (at debug level) in `logs`. */
  captureLogs?: boolean;
  closeGraceMs?: number;
  /** What "started" means; default: the gateway says it is ready. */
  until?: (g: GatewayService) => boolean;
}

export async function startGateway(tp: TestPlatform, opts: StartGatewayOptions): Promise<StartedGateway> {
  const config = loadConfig(process.env, {
    BITPREDICT_TOPIC_PREFIX: tp.config.kafka.topicPrefix,
    BITPREDICT_REDIS_KEY_PREFIX: tp.config.redis.keyPrefix,
    BITPREDICT_KAFKA_CLIENT_ID: tp.config.kafka.clientId,
    BITPREDICT_DATA_DIR: DATA_DIR,
    BITPREDICT_LOG_LEVEL: process.env.BITPREDICT_LOG_LEVEL ?? 'error',
    BITPREDICT_RETRY_BACKOFF_MS: '20',
    BITPREDICT_INSTANCE_ID: opts.label,
    ...opts.overrides,
  });
  const logs: string[] = [];
  const logger = opts.captureLogs
    ? createLogger({
        level: 'debug',
        name: opts.label,
        destination: {
          write: (line: string) => {
            logs.push(line);
          },
        },
      })
    : tp.logger.child({ gateway: opts.label });
  // Kafka client and serde are shared with the test platform (same topics, same registry); the
  // metrics registry is the gateway's own, as in a process of its own.
  const registry = createMetricsRegistry({ service: opts.label, defaultMetrics: false });
  const platform: Platform = { ...tp.platform, logger, registry };
  const gateway = await createGateway({
    platform,
    config,
    redis: tp.redis,
    host: '127.0.0.1',
    port: 0,
    onFatal: (e) => {
      opts.fatal.push(e);
    },
    closeGraceMs: opts.closeGraceMs ?? 1000,
  });
  await gateway.start();
  const until = opts.until ?? ((g: GatewayService) => g.readiness().ready);
  await waitFor(() => until(gateway), `gateway ${opts.label} to start (${JSON.stringify(gateway.readiness().checks)})`, 30_000);
  return { gateway, config, registry, logs };
}

const HOUR = 3_600_000;
/** Recent event times, so that the records never fall under a topic's retention. */
export const T0 = Math.floor(Date.now() / HOUR) * HOUR - 1000 * HOUR;

/** A valid prediction of `symbol` for the i-th hour after T0. */
export function prediction(i: number, overrides: Partial<Prediction> = {}): Prediction {
  const eventTime = T0 + i * HOUR;
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime,
    targetTime: eventTime + HOUR,
    horizonSteps: 1,
    predictedLogReturn: 0.0001 * i,
    predictedPrice: 30_000 + i,
    probUp: 0.5,
    modelName: 'test-model',
    modelVersion: 'v1',
    isBaseline: false,
    featureSetVersion: 'fs-test',
    candleIngestedAt: eventTime + 1,
    featuresComputedAt: eventTime + 2,
    predictedAt: eventTime + 3,
    quantileLevels: [],
    horizons: [],
    ...overrides,
  };
}

export async function producePredictions(tp: TestPlatform, producer: Producer, preds: Prediction[]): Promise<void> {
  await producer.send(
    preds.map((p) => ({
      topic: tp.topic('predictions'),
      key: seriesKey(p.symbol, p.interval),
      value: tp.platform.serde.encode('predictions', p),
      timestamp: Date.now(),
    })),
  );
}

/**
 * Waits until the gateway's consumer really reads: the group join is reported before the consumer
 * has fetched its starting (latest) offsets, so a record produced right after "ready" could fall
 * before them. Produces probes on a symbol of its own until the gateway knows it (a subscribe to a
 * symbol it has read no record of is refused with unknown_symbol) and a probe arrives.
 */
export async function warmUp(tp: TestPlatform, producer: Producer, gateway: GatewayService | string, headers: Record<string, string> = {}): Promise<void> {
  const c = await connectWs(wsUrl(typeof gateway === 'string' ? gateway : gateway.url()), { headers });
  try {
    const deadline = Date.now() + 30_000;
    let subscribed = false;
    for (let i = 0; ; i++) {
      await producePredictions(tp, producer, [prediction(i, { symbol: 'WARMUP' })]);
      try {
        if (!subscribed) {
          c.send({ op: 'subscribe', channel: 'predictions:WARMUP' });
          const answer = await c.waitFor((m) => m.type === 'subscribed' || m.type === 'error', 'the warm-up subscription');
          subscribed = answer.type === 'subscribed';
          if (!subscribed) {
            await new Promise((resolve) => setTimeout(resolve, 200));
            if (Date.now() > deadline) throw new Error(`the gateway never read a warm-up record (${JSON.stringify(answer)})`);
            continue;
          }
        }
        await c.waitFor((m) => m.type === 'prediction', 'a warm-up prediction', 500);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
  } finally {
    c.close();
  }
}

/** The value of a counter with these labels in a registry (0 when absent). */
export async function counterValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}
