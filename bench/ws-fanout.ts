// ws-fanout: WebSocket fan-out of predictions through the real gateway (createGateway, in this
// process) to N clients on loopback, each subscribed to predictions:BTCUSDT, at 100 predictions/s.
// Latency is "prediction record entering Kafka -> receipt": predictedAt is stamped right before the
// produce, the client subtracts it from its receipt time. Baseline in the same run, to the same
// client processes: a bare `ws` WebSocketServer (also in this process) broadcasting the same JSON
// message shape at the same rate, stamped at send, with no Kafka. Rounds alternate baseline,
// gateway, baseline, gateway... so that machine noise hits both.
// Goals: ratio = gateway delivered_per_s / baseline delivered_per_s >= 0.8; p99 < 50 ms at 1,000.
//
// The clients live in child processes (bench/ws-fanout-client.ts): a server that shared its event
// loop with 5,000 clients would be measuring the clients.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import WebSocket, { WebSocketServer } from 'ws';
import { BitPredictError, errorMessage } from '../core/errors.js';
import { createRedis } from '../core/redis.js';
import { createProducer, type Producer } from '../core/kafka/producer.js';
import { createGateway, type GatewayService } from '../gateway/service.js';
import type { Prediction } from '../schemas/types.js';
import { benchPlatform, progress } from './common.js';
import type { DriverCommand, DriverEvent, DriverReport } from './ws-fanout-client.js';

const CLIENT_COUNTS = (process.env.BENCH_CLIENTS ?? '1000,5000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n > 0);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
/** Baseline/gateway pairs per client count. */
const PAIRS = Number(process.env.BENCH_ROUNDS ?? 2);
const PROCS = Math.max(1, Number(process.env.BENCH_CLIENT_PROCS ?? Math.min(2, cpus().length)));
const CONNECT_CONCURRENCY = 100;
const CHANNEL = 'predictions:BTCUSDT';
/** File descriptors this process needs besides the sockets (Kafka, Redis, the registry, stdio). */
const FD_MARGIN = 1024;

// ---------------------------------------------------------------------------------------------
// Client processes

interface Driver {
  request<E extends DriverEvent['ev']>(c: DriverCommand, expect: E, timeoutMs: number): Promise<Extract<DriverEvent, { ev: E }>>;
  post(c: DriverCommand): void;
  readonly child: ChildProcess;
}

function startDriver(index: number): Driver {
  // fork() reuses this process's execArgv, so under tsx the child loads TypeScript the same way.
  const child = fork(fileURLToPath(new URL('./ws-fanout-client.ts', import.meta.url)), [], {
    env: { ...process.env, BENCH_WS_FANOUT_DRIVER: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // Commands to one driver are strictly request/response, so one waiter at a time is enough.
  let waiter: { expect: string; resolve(e: DriverEvent): void; reject(err: Error): void } | null = null;
  let exited: Error | null = null;
  const failWaiter = (err: Error): void => {
    const w = waiter;
    waiter = null;
    w?.reject(err);
  };
  child.on('message', (e: DriverEvent) => {
    if (e.ev === 'failed') return failWaiter(new Error(`client process ${index}: ${e.message}`));
    if (waiter?.expect === e.ev) {
      const w = waiter;
      waiter = null;
      w.resolve(e);
    }
  });
  child.on('exit', (code, signal) => {
    exited = new Error(`client process ${index} exited (code ${code}, signal ${signal})`);
    failWaiter(exited);
  });
  return {
    child,
    post: (c) => {
      if (child.connected) child.send(c);
    },
    request(c, expect, timeoutMs) {
      if (exited) return Promise.reject(exited);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => failWaiter(new Error(`client process ${index}: no "${expect}" within ${timeoutMs} ms`)), timeoutMs);
        waiter = {
          expect,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e as Extract<DriverEvent, { ev: typeof expect }>);
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        child.send(c);
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

/** `global.gc`, also without --expose-gc (the flag can still be set at run time). */
function findGc(): (() => void) | null {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

interface MemorySample {
  heapPlusExternal: number;
  rss: number;
}

function sampleMemory(gc: (() => void) | null): MemorySample {
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { heapPlusExternal: m.heapUsed + m.external, rss: m.rss };
}

function openFileLimit(): number {
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
  } catch {
    return Number.NaN;
  }
}

function histogramPercentile(hist: Map<number, number>, total: number, p: number): number {
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const ms of [...hist.keys()].sort((a, b) => a - b)) {
    seen += hist.get(ms) as number;
    if (seen >= rank) return ms;
  }
  return Number.NaN;
}

/**
 * Calls send(i) for i = 0..count-1 at `rate` per second on a fixed schedule: a late send does not
 * push back the ones after it, so the offered rate holds even if one send is slow.
 */
async function paced(count: number, rate: number, send: (i: number) => Promise<void> | void): Promise<void> {
  const start = Date.now();
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await send(i);
  }
}

/** A prediction as the predictor would publish it; eventTime carries the message index. */
function benchPrediction(eventTime: number, now: number): Prediction {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime,
    targetTime: eventTime + 3_600_000,
    horizonSteps: 1,
    predictedLogReturn: 0.000_812_345,
    predictedPrice: 97_123.456_789,
    probUp: 0.537_2,
    modelName: 'lstm-attention',
    modelVersion: 'bench-ws-fanout',
    isBaseline: false,
    featureSetVersion: 'fs-v1',
    candleIngestedAt: now,
    featuresComputedAt: now,
    predictedAt: now,
    // What the predictor publishes since forecast distributions: three horizons of seven quantiles.
    quantileLevels: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
    horizons: [1, 4, 24].map((h) => ({
      horizonSteps: h,
      targetTime: eventTime + h * 3_600_000,
      mean: 0,
      scale: 0.004 * Math.sqrt(h),
      quantiles: [-2.1, -1.6, -0.8, 0, 0.8, 1.6, 2.1].map((z) => z * 0.004 * Math.sqrt(h)),
      probUp: 0.5,
      predictedPrice: 95_000,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Rounds

type Kind = 'baseline' | 'gateway';

interface RoundResult {
  kind: Kind;
  clients: number;
  connectFailed: number;
  expected: number;
  delivered: number;
  spanMs: number;
  histogram: Map<number, number>;
  outOfOrder: number;
  seqGaps: number;
  closes: Record<string, number>;
  errors: number;
  kbPerConnection: number;
  rssKbPerConnection: number;
  protocol: number | null;
}

interface Target {
  kind: Kind;
  url: string;
  subscribe: string | null;
  /** Sends message i with predictedAt = Date.now(); eventTime = base + i. */
  send(base: number, i: number): Promise<void> | void;
}

async function runRound(opts: { drivers: Driver[]; target: Target; clients: number; gc: (() => void) | null; checkFatal(): void }): Promise<RoundResult> {
  const { drivers, target, clients, gc } = opts;
  const before = sampleMemory(gc);
  const shares = drivers.map((_, i) => Math.floor(clients / drivers.length) + (i < clients % drivers.length ? 1 : 0));
  const connectStart = Date.now();
  const connected = await Promise.all(
    drivers.map((d, i) =>
      d.request(
        { cmd: 'connect', url: target.url, count: shares[i] as number, subscribe: target.subscribe, concurrency: CONNECT_CONCURRENCY },
        'connected',
        180_000,
      ),
    ),
  );
  const open = connected.reduce((s, e) => s + e.open, 0);
  const failed = connected.reduce((s, e) => s + e.failed, 0);
  const protocol = connected.find((e) => e.protocol !== null)?.protocol ?? null;
  progress(
    `${target.kind}: ${open}/${clients} clients ready in ${Date.now() - connectStart} ms${failed ? ` (${failed} failed: ${connected.find((e) => e.firstError)?.firstError})` : ''}`,
  );
  if (open === 0) throw new Error(`${target.kind}: no client could connect to ${target.url}`);
  // Let the handshake garbage and socket buffers settle before reading memory.
  await new Promise((r) => setTimeout(r, 1000));
  const after = sampleMemory(gc);
  opts.checkFatal();

  const warmup = Math.round(WARMUP_SECONDS * RATE);
  const measured = Math.round(SECONDS * RATE);
  // Index base: rounds are further apart in time than they have messages, so a late frame of an
  // earlier round can never fall into this round's window.
  const base = Date.now();
  for (const d of drivers) d.post({ cmd: 'measure', from: base + warmup, to: base + warmup + measured });
  let firstMeasuredSendAt = 0;
  progress(`${target.kind}: ${warmup} warmup + ${measured} measured messages at ${RATE}/s`);
  await paced(warmup + measured, RATE, (i) => {
    if (i === warmup) firstMeasuredSendAt = Date.now();
    return target.send(base, i);
  });
  const sendEndedAt = Date.now();

  // Drain: wait until every client has every measured message, or until nothing moves for 3 s.
  const expected = open * measured;
  let delivered = 0;
  let lastProgressAt = Date.now();
  while (delivered < expected && Date.now() - lastProgressAt < 3000 && Date.now() - sendEndedAt < 30_000) {
    await new Promise((r) => setTimeout(r, 200));
    const counts = await Promise.all(drivers.map((d) => d.request({ cmd: 'count' }, 'count', 10_000)));
    const now = counts.reduce((s, e) => s + e.delivered, 0);
    if (now > delivered) lastProgressAt = Date.now();
    delivered = now;
  }
  opts.checkFatal();
  const reports: DriverReport[] = (await Promise.all(drivers.map((d) => d.request({ cmd: 'report' }, 'report', 30_000)))).map((e) => e.report);
  await Promise.all(drivers.map((d) => d.request({ cmd: 'disconnect' }, 'disconnected', 60_000)));

  const histogram = new Map<number, number>();
  const closes: Record<string, number> = {};
  for (const r of reports) {
    for (const [ms, n] of r.histogram) histogram.set(ms, (histogram.get(ms) ?? 0) + n);
    for (const [code, n] of Object.entries(r.closes)) closes[code] = (closes[code] ?? 0) + n;
  }
  const lastReceiptAt = Math.max(...reports.map((r) => r.lastReceiptAt));
  const result: RoundResult = {
    kind: target.kind,
    clients: open,
    connectFailed: failed,
    expected,
    delivered: reports.reduce((s, r) => s + r.delivered, 0),
    // From the first measured send to the last measured receipt, never shorter than the nominal
    // send window: a server that falls behind is charged for the time it takes to catch up.
    spanMs: Math.max((measured * 1000) / RATE, lastReceiptAt - firstMeasuredSendAt),
    histogram,
    outOfOrder: reports.reduce((s, r) => s + r.outOfOrder, 0),
    seqGaps: reports.reduce((s, r) => s + r.seqGaps, 0),
    closes,
    errors: reports.reduce((s, r) => s + r.errors, 0),
    kbPerConnection: (after.heapPlusExternal - before.heapPlusExternal) / open / 1024,
    rssKbPerConnection: (after.rss - before.rss) / open / 1024,
    protocol,
  };
  const total = [...histogram.values()].reduce((s, n) => s + n, 0);
  progress(
    `${target.kind}: delivered ${result.delivered}/${expected} (lost ${expected - result.delivered}), ` +
      `${Math.round(result.delivered / (result.spanMs / 1000))}/s, p50 ${histogramPercentile(histogram, total, 50)} ms, ` +
      `p99 ${histogramPercentile(histogram, total, 99)} ms${Object.keys(closes).length ? `, server closes ${JSON.stringify(closes)}` : ''}`,
  );
  return result;
}

function summarise(rounds: RoundResult[]): { p50: number; p99: number; max: number; deliveredPerS: number; expected: number; delivered: number } {
  const histogram = new Map<number, number>();
  for (const r of rounds) for (const [ms, n] of r.histogram) histogram.set(ms, (histogram.get(ms) ?? 0) + n);
  const total = [...histogram.values()].reduce((s, n) => s + n, 0);
  const delivered = rounds.reduce((s, r) => s + r.delivered, 0);
  const spanS = rounds.reduce((s, r) => s + r.spanMs, 0) / 1000;
  return {
    p50: histogramPercentile(histogram, total, 50),
    p99: histogramPercentile(histogram, total, 99),
    max: histogramPercentile(histogram, total, 100),
    deliveredPerS: Math.round(delivered / spanS),
    expected: rounds.reduce((s, r) => s + r.expected, 0),
    delivered,
  };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

// ---------------------------------------------------------------------------------------------

export async function run(): Promise<Record<string, unknown>> {
  if (CLIENT_COUNTS.length === 0)
    throw new BitPredictError('ERR_CONFIG_INVALID', `BENCH_CLIENTS must list positive integers, e.g. "1000,5000" (got "${process.env.BENCH_CLIENTS}")`);
  const maxClients = Math.max(...CLIENT_COUNTS);
  const limit = openFileLimit();
  // This process holds every server-side socket of a round; each client process its share.
  if (!(limit >= maxClients + FD_MARGIN)) {
    throw new BitPredictError(
      'ERR_CONFIG_INVALID',
      `ws-fanout needs at least ${maxClients + FD_MARGIN} open files for ${maxClients} clients, but ulimit -n is ${limit}; raise it (ulimit -n 20000) or lower BENCH_CLIENTS`,
    );
  }
  const gc = findGc();
  progress(
    `ws-fanout: clients ${CLIENT_COUNTS.join(', ')}, ${RATE}/s for ${SECONDS} s (+${WARMUP_SECONDS} s warmup) per round, ${PAIRS} baseline/gateway pairs, ${PROCS} client processes, ulimit -n ${limit}, memory ${gc ? 'heap+external after gc' : 'without gc'}`,
  );

  const { platform, config, cleanup } = await benchPlatform('ws-fanout', {
    BITPREDICT_GATEWAY_AUTH: 'open',
    BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true',
    // Origins only matter to browsers; one is named so the config is valid whatever its default.
    BITPREDICT_GATEWAY_ALLOWED_ORIGINS: process.env.BITPREDICT_GATEWAY_ALLOWED_ORIGINS ?? 'http://127.0.0.1',
    // The heartbeat and idle timers must not fire in the middle of a round.
    BITPREDICT_GATEWAY_HEARTBEAT_MS: '60000',
    BITPREDICT_GATEWAY_IDLE_TIMEOUT_MS: '0',
    // Thousands of clients from one loopback address: the per-address cap would refuse them.
    BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS: '0',
  });
  let fatal: unknown = null;
  const checkFatal = (): void => {
    if (fatal) throw new Error(`gateway failed: ${errorMessage(fatal)}`, { cause: fatal });
  };
  const redis = await createRedis({ config: config.redis, logger: platform.logger });
  let gateway: GatewayService | null = null;
  let producer: Producer | null = null;
  let baseline: WebSocketServer | null = null;
  const drivers: Driver[] = [];
  try {
    gateway = await createGateway({
      platform,
      config,
      redis,
      host: '127.0.0.1',
      port: 0,
      onFatal: (err) => {
        fatal = err;
      },
    });
    await gateway.start();
    const readyBy = Date.now() + 60_000;
    while (!gateway.readiness().ready) {
      checkFatal();
      if (Date.now() > readyBy) throw new Error(`gateway not ready within 60 s: ${JSON.stringify(gateway.readiness().checks)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    producer = await createProducer(platform.kafka);
    const topic = platform.kafka.topic('predictions');
    const kafkaProducer = producer;
    const gatewayTarget: Target = {
      kind: 'gateway',
      url: `${gateway.url().replace(/^http/, 'ws')}/ws`,
      subscribe: CHANNEL,
      async send(base, i) {
        const p = benchPrediction(base + i, Date.now());
        await kafkaProducer.send([{ topic, key: 'BTCUSDT:1h', value: platform.serde.encode('predictions', p), timestamp: p.eventTime }]);
      },
    };

    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    baseline = wss;
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', () => resolve());
      wss.once('error', reject);
    });
    const address = wss.address();
    let baselineSeq = 0;
    const baselineTarget: Target = {
      kind: 'baseline',
      url: `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : String(address)}`,
      subscribe: null,
      send(base, i) {
        // The message the gateway pushes (v2 shape), serialised once and written to every socket.
        const buf = Buffer.from(JSON.stringify({ type: 'prediction', channel: CHANNEL, seq: ++baselineSeq, data: benchPrediction(base + i, Date.now()) }));
        for (const ws of wss.clients) if (ws.readyState === WebSocket.OPEN) ws.send(buf, { binary: false });
      },
    };

    for (let i = 0; i < PROCS; i++) drivers.push(startDriver(i));
    const runs: Record<string, unknown>[] = [];
    for (const clients of CLIENT_COUNTS) {
      progress(`--- ${clients} clients`);
      const rounds: RoundResult[] = [];
      for (let pair = 0; pair < PAIRS; pair++) {
        for (const target of [baselineTarget, gatewayTarget]) {
          rounds.push(await runRound({ drivers, target, clients, gc, checkFatal }));
        }
      }
      const gw = rounds.filter((r) => r.kind === 'gateway');
      const bl = rounds.filter((r) => r.kind === 'baseline');
      const g = summarise(gw);
      const b = summarise(bl);
      const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
      const closes = (rs: RoundResult[]): Record<string, number> => {
        const out: Record<string, number> = {};
        for (const r of rs) for (const [code, n] of Object.entries(r.closes)) out[code] = (out[code] ?? 0) + n;
        return out;
      };
      const entry = {
        clients,
        p50_ms: g.p50,
        p99_ms: g.p99,
        max_ms: g.max,
        delivered_per_s: g.deliveredPerS,
        baseline_delivered_per_s: b.deliveredPerS,
        offered_per_s: clients * RATE,
        ratio: round2(g.deliveredPerS / Math.max(b.deliveredPerS, 1)),
        kb_per_connection: round2(mean(gw.map((r) => r.kbPerConnection))),
        rss_kb_per_connection: round2(mean(gw.map((r) => r.rssKbPerConnection))),
        baseline_p50_ms: b.p50,
        baseline_p99_ms: b.p99,
        baseline_max_ms: b.max,
        baseline_kb_per_connection: round2(mean(bl.map((r) => r.kbPerConnection))),
        expected: g.expected,
        delivered: g.delivered,
        lost: g.expected - g.delivered,
        baseline_expected: b.expected,
        baseline_lost: b.expected - b.delivered,
        connect_failed: gw.reduce((s, r) => s + r.connectFailed, 0),
        baseline_connect_failed: bl.reduce((s, r) => s + r.connectFailed, 0),
        out_of_order: gw.reduce((s, r) => s + r.outOfOrder, 0),
        seq_gaps: gw.reduce((s, r) => s + r.seqGaps, 0),
        server_closes: closes(gw),
        baseline_server_closes: closes(bl),
        ws_errors: gw.reduce((s, r) => s + r.errors, 0),
        protocol: gw.find((r) => r.protocol !== null)?.protocol ?? null,
        rounds: rounds.map((r) => {
          const s = summarise([r]);
          return { kind: r.kind, clients: r.clients, delivered_per_s: s.deliveredPerS, p50_ms: s.p50, p99_ms: s.p99, lost: r.expected - r.delivered };
        }),
      };
      if (entry.lost > 0 || entry.baseline_lost > 0)
        progress(`WARNING: ${clients} clients: lost ${entry.lost} gateway and ${entry.baseline_lost} baseline messages`);
      progress(
        `${clients} clients: gateway ${entry.delivered_per_s}/s p50 ${entry.p50_ms} p99 ${entry.p99_ms} ms; baseline ${entry.baseline_delivered_per_s}/s p50 ${entry.baseline_p50_ms} p99 ${entry.baseline_p99_ms} ms; ratio ${entry.ratio}; ${entry.kb_per_connection} KB/connection`,
      );
      runs.push(entry);
    }
    const headline = runs.find((r) => r.clients === 1000) ?? runs[0] ?? {};
    return {
      ...headline,
      runs,
      rate_per_s: RATE,
      seconds_per_round: SECONDS,
      warmup_seconds: WARMUP_SECONDS,
      pairs: PAIRS,
      client_processes: PROCS,
      memory_method: gc ? 'heap+external after gc' : 'heap+external without gc',
      goal_ratio: 0.8,
      goal_p99_ms_at_1000: 50,
    };
  } finally {
    for (const d of drivers) {
      d.post({ cmd: 'exit' });
    }
    await Promise.all(
      drivers.map(
        (d) =>
          new Promise<void>((resolve) => {
            if (d.child.exitCode !== null || d.child.signalCode !== null) return resolve();
            const timer = setTimeout(() => {
              d.child.kill('SIGKILL');
              resolve();
            }, 5_000);
            d.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    if (baseline) {
      for (const ws of baseline.clients) ws.terminate();
      await new Promise<void>((resolve) => baseline?.close(() => resolve()));
    }
    if (gateway) await gateway.stop();
    if (producer) await producer.close();
    await redis.quit();
    await cleanup();
  }
}
