// tracing: what OpenTelemetry tracing costs the feature processor on real Kafka. The same workload
// (the hourly BTC/USDT series replayed under COPIES symbol names, 1 partition, the default
// guarantee) consumed from the start by a fresh group in three modes, interleaved round by round
// (the order rotates each round) so that drift in the machine's load hits every mode alike:
//   absent   no endpoint: the processor's platform has no tracer, no SDK is registered (how every
//            process without OTEL_EXPORTER_OTLP_ENDPOINT runs);
//   absent2  the same again: absent2/absent is the run-to-run noise of this machine;
//   on       startTracing against a local OTLP/HTTP receiver (a child process, so that decoding
//            the spans does not take this process's CPU), a span per record, exported in batches.
// "Off" is the no-endpoint path: startTracing returns null and every instrumented place checks for
// a tracer first, so off and absent are the same code and `ratio` (off/absent) is absent2/absent;
// it shows off is free when it stays within the noise. on/absent is the cost of tracing when on.
// Per mode: records/s (median over rounds) and the record handler's p50/p99 (from the runner's
// bitpredict_consumer_handler_seconds, given fine buckets here; the span itself opens and ends
// outside the handler's timer, so p50/p99 show the context propagation inside it, records/s the whole).
import { spawn, type ChildProcess } from 'node:child_process';
import { benchPlatform, median, progress } from './common.js';
import { runReplay } from '../producers/replay/service.js';
import { createProducer } from '../core/kafka/producer.js';
import { createAdmin } from '../core/kafka/client.js';
import { createRedis } from '../core/redis.js';
import { createFeatureProcessor } from '../processors/features/service.js';
import { createPlatform, type Platform } from '../core/runtime.js';
import { createMetricsRegistry, histogram, type Registry } from '../core/metrics.js';
import { startTracing } from '../core/tracing.js';
import { VERSION } from '../core/version.js';

const FILE = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const COPIES = Number(process.env.BENCH_COPIES ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MODES = ['absent', 'absent2', 'on'] as const;
type Mode = (typeof MODES)[number];

// Handler time buckets: 5 us .. 50 ms, fine enough for p50/p99 of a sub-millisecond handler.
const BUCKETS = [
  5e-6, 1e-5, 1.5e-5, 2e-5, 3e-5, 4e-5, 5e-5, 6e-5, 8e-5, 1e-4, 1.25e-4, 1.5e-4, 2e-4, 2.5e-4, 3e-4, 4e-4, 5e-4, 7.5e-4, 1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3, 1e-2,
  2.5e-2, 5e-2,
];

/** The OTLP/HTTP receiver, in a child process: counts the spans it is sent; GET /count answers the total. */
const RECEIVER = `
const http = require('node:http');
let spans = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') return res.end(String(spans));
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') return res.writeHead(404).end();
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans += ss.spans.length;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(0, '127.0.0.1', () => process.send(server.address().port));
`;

async function startReceiver(): Promise<{ child: ChildProcess; url: string; count(): Promise<number> }> {
  const child = spawn(process.execPath, ['-e', RECEIVER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve(Number(m)));
    child.once('exit', (code) => reject(new Error(`the OTLP receiver exited (${code})`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return { child, url, count: async () => Number(await (await fetch(`${url}/count`)).text()) };
}

/** p-th percentile (0..1) of a prom-client histogram, as the upper bound of the bucket it falls in. */
async function quantile(registry: Registry, name: string, p: number): Promise<number> {
  const m = (await registry.getSingleMetric(name)!.get()).values;
  const buckets = m.filter((v) => (v as { metricName?: string }).metricName === `${name}_bucket`).map((v) => ({ le: Number(v.labels.le), n: v.value }));
  const total = buckets.find((b) => !Number.isFinite(b.le))?.n ?? 0;
  for (const b of buckets.sort((a, c) => a.le - c.le)) if (b.n >= p * total) return b.le;
  return Number.NaN;
}

async function waitConsumed(platform: Platform, groupId: string, topic: string, total: bigint): Promise<number> {
  const admin = await createAdmin(platform.kafka);
  const t0 = process.hrtime.bigint();
  try {
    for (;;) {
      const lag = await admin.groupLag(groupId, topic);
      const done = lag.reduce((n, p) => n + (p.committed === '-1' ? 0n : BigInt(p.committed)), 0n);
      if (done >= total) return Number(process.hrtime.bigint() - t0) / 1e9;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await admin.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const { platform, config, cleanup } = await benchPlatform('tracing');
  const candles = platform.kafka.topic('candles');
  const redis = await createRedis({ config: config.redis, logger: platform.logger });
  const receiver = await startReceiver();
  try {
    const producer = await createProducer(platform.kafka);
    let total = 0n;
    for (let i = 0; i < COPIES; i++) {
      const s = await runReplay({
        platform,
        config,
        producer,
        file: FILE,
        symbol: i === 0 ? 'BTCUSDT' : `BTC${i}USDT`,
        interval: '1h',
        rate: 0,
        resume: false,
      });
      total += BigInt(s.published);
    }
    await producer.close();
    progress(`${total} candles in ${candles} (${COPIES} series); modes ${MODES.join(', ')}, ${ROUNDS} rounds interleaved`);

    const rates: Record<Mode, number[]> = { absent: [], absent2: [], on: [] };
    const p50: Record<Mode, number[]> = { absent: [], absent2: [], on: [] };
    const p99: Record<Mode, number[]> = { absent: [], absent2: [], on: [] };
    let spansExported = 0;
    let spansDropped = 0;
    const once = async (mode: Mode, round: number): Promise<void> => {
      const registry = createMetricsRegistry({ service: `bench-tracing-${mode}`, defaultMetrics: false });
      histogram(registry, 'bitpredict_consumer_handler_seconds', 'Time in the record handler', ['group'], BUCKETS);
      const tracing =
        mode === 'on'
          ? startTracing({
              config: { ...config.tracing, endpoint: receiver.url },
              serviceName: 'bench-tracing',
              version: VERSION,
              registry,
              logger: platform.logger,
            })
          : null;
      const p = createPlatform({
        config,
        logger: platform.logger,
        registry,
        clientId: `bench-tracing-${mode}`,
        ...(tracing ? { tracer: tracing.tracer } : {}),
      });
      await p.serde.registerAll();
      const group = `bench-tracing-${mode}-${round}-${Date.now()}`;
      const proc = await createFeatureProcessor({ platform: p, config, redis, groupId: group, onFatal: (e) => progress(`features fatal: ${e.message}`) });
      await proc.start();
      const s = await waitConsumed(platform, group, candles, total);
      await proc.stop();
      if (tracing) {
        await tracing.shutdown();
        const text = await registry.metrics();
        const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
        spansExported += value(/^bitpredict_tracing_spans_exported_total\S* (\d+)/m);
        spansDropped += [...text.matchAll(/^bitpredict_tracing_spans_dropped_total\S* (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
      }
      rates[mode].push(Number(total) / s);
      p50[mode].push(await quantile(registry, 'bitpredict_consumer_handler_seconds', 0.5));
      p99[mode].push(await quantile(registry, 'bitpredict_consumer_handler_seconds', 0.99));
      progress(`round ${round + 1} ${mode}: ${(Number(total) / s).toFixed(0)} records/s in ${s.toFixed(1)} s`);
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < MODES.length; k++) await once(MODES[(round + k) % MODES.length] as Mode, round);
    }
    const received = await receiver.count();
    const ratio = (a: number[], b: number[]): number => Number(median(a.map((x, i) => x / (b[i] as number))).toFixed(3));
    const us = (xs: number[]): number => Number((median(xs) * 1e6).toFixed(0));
    const perMode = Object.fromEntries(
      MODES.map((m) => [m, { records_per_s: Math.round(median(rates[m])), handler_p50_us: us(p50[m]), handler_p99_us: us(p99[m]) }]),
    );
    // The noise: how far two identical runs differ (|1 - absent2/absent| per round, the largest).
    const noise = Math.max(...rates.absent.map((x, i) => Math.abs(1 - (rates.absent2[i] as number) / x)));
    const offRatio = ratio(rates.absent2, rates.absent);
    return {
      records: Number(total),
      rounds: ROUNDS,
      ...perMode,
      records_per_s: Math.round(median(rates.absent2)),
      baseline_records_per_s: Math.round(median(rates.absent)),
      // off/absent: off is the no-endpoint path, the same code as absent (see above).
      ratio: offRatio,
      noise: Number(noise.toFixed(3)),
      ratio_on_vs_absent: ratio(rates.on, rates.absent),
      spans_received: received,
      spans_exported: spansExported,
      spans_dropped: spansDropped,
      goals: { off_ge_0_97: offRatio >= 0.97 },
    };
  } finally {
    receiver.child.kill();
    const keys = await redis.keys(`${config.redis.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await cleanup();
  }
}
