// dashboard: the trader's screen (issue 14) in headless Chromium over 10,000 real hourly candles of
// history. The history goes in through the real path: the replay producer publishes the candles,
// the feature processor and the predictor (in this process) turn them into features, forecasts and
// the Redis history the gateway's REST routes read. Then, against the real gateway (open mode: the
// key prompt would otherwise measure typing):
// - time to first chart: navigation start to the page's performance mark 'bitpredict:first-chart',
//   in a fresh browser context each round (cold cache);
// - frames dropped while 100 candles/s are replayed for ~10 s (each one also a feature and the
//   forecasts on the WebSocket): requestAnimationFrame intervals longer than 1.5x the reference
//   frame, the median rAF interval of the bare page (below) in the same run, i.e. the display
//   period as this headless browser paces it; also the frames missed (sum of interval/reference - 1);
// - JS bytes shipped: the bodies of every script response of one load (decoded, and on the wire).
// Baseline in the same run: a bare page, bundled here by esbuild, that only imports
// lightweight-charts, fetches the same REST answer (/v1/candles, limit 10,000, forwarded to the
// gateway) and draws it as candlesticks. Rounds alternate baseline and page. ratio = baseline
// time to first chart / page time to first chart (1 = the page costs nothing over the bare chart;
// below 1 = slower). The bare page's frames over an equal replay window (it subscribes to
// nothing) are the machine's noise floor for frames dropped, and give the reference frame.
import { createServer, request, type Server } from 'node:http';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { createRedis, redisKeys, type Redis } from '../core/redis.js';
import { createProducer, type Producer } from '../core/kafka/producer.js';
import { createFeatureProcessor } from '../processors/features/service.js';
import { createPredictor } from '../processors/predictor/service.js';
import { createGateway, type GatewayService } from '../gateway/service.js';
import { runReplay } from '../producers/replay/service.js';
import type { Service } from '../core/service.js';
import type { Prediction } from '../schemas/types.js';
import { launchChromium } from '../test/helpers/browser.js';
import { HOURLY_MERGED } from '../test/helpers/platform.js';
import { benchPlatform, median, percentile, progress, REPO_ROOT } from './common.js';

const CANDLES = Number(process.env.BENCH_CANDLES ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** Measured baseline/page pairs for the time to first chart (after one warm-up pair). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SYMBOL = 'BTCUSDT';
const VIEWPORT = { width: 1366, height: 900 };
const MARK = 'bitpredict:first-chart';

const BASELINE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>baseline: lightweight-charts only</title>
<link rel="icon" href="data:,">
<style>html, body { margin: 0; height: 100%; } #chart { height: 100vh; }</style>
<script type="module" src="/baseline.js"></script></head>
<body><div id="chart"></div></body></html>`;

// The whole baseline: fetch, map, draw. The mark goes where the page puts its own: right after the
// library call that takes the candles (the page makes it inside an animation frame, the baseline at once).
const BASELINE_TS = `
import { createChart, CandlestickSeries } from 'lightweight-charts';
const res = await fetch('/v1/candles?symbol=${SYMBOL}&interval=1h&limit=${CANDLES}');
const body = await res.json();
const chart = createChart(document.getElementById('chart'), { autoSize: true });
const series = chart.addSeries(CandlestickSeries);
series.setData(body.candles.map((c) => ({ time: c.openTime / 1000, open: c.open, high: c.high, low: c.low, close: c.close })));
performance.mark('${MARK}');
`;

// Browser-side code with a named function as a string: under tsx such a function passed to
// page.evaluate carries a helper (__name) that does not exist in the page. (waitForFunction takes
// functions: a string there is evaluated with eval, which the page's CSP forbids.)
const START_FRAMES = `(() => {
  const w = window;
  w.__frames = [];
  w.__framesOn = true;
  const tick = (t) => { w.__frames.push(t); if (w.__framesOn) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})()`;
const STOP_FRAMES = `(() => { window.__framesOn = false; return window.__frames; })()`;
const READ_MARK = `(() => { const m = performance.getEntriesByName('${MARK}')[0]; return m ? m.startTime : null; })()`;

async function bundleBaseline(): Promise<string> {
  const out = await build({
    stdin: { contents: BASELINE_TS, resolveDir: REPO_ROOT, sourcefile: 'baseline.ts', loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]?.text ?? '';
}

/** Serves the bare page and forwards /v1/* to the gateway, so both pages read the same REST answer. */
async function startBaselineServer(gatewayPort: number, js: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/v1/')) {
      const up = request({ host: '127.0.0.1', port: gatewayPort, path: url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
      return;
    }
    const [type, body] = url === '/baseline.js' ? ['text/javascript; charset=utf-8', js] : ['text/html; charset=utf-8', BASELINE_HTML];
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const address = server.address();
  return { server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

interface Load {
  ttfcMs: number;
  jsBytes: number;
  jsWireBytes: number;
  candles: number | null;
}

/** One cold load in a fresh context: time to the first-chart mark, script bytes, candles drawn. */
async function load(browser: Browser, url: string, keepOpen = false): Promise<Load & { page: Page | null; wsFrames: { count: number } }> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  const wsFrames = { count: 0 };
  page.on('websocket', (ws) => ws.on('framereceived', () => wsFrames.count++));
  // Per script: the bytes the browser executes (decoded body) and those that crossed the wire (gzip).
  const scripts: Promise<{ body: number; wire: number }>[] = [];
  page.on('response', (r) => {
    if (r.request().resourceType() !== 'script') return;
    scripts.push(Promise.all([r.body(), r.request().sizes()]).then(([b, sizes]) => ({ body: b.length, wire: sizes.responseBodySize })));
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(url);
  await page
    .waitForFunction((mark) => performance.getEntriesByName(mark).length > 0, MARK, { timeout: 60_000, polling: 50 })
    .catch((err: unknown) => {
      throw new Error(`${url} never marked '${MARK}'${errors.length > 0 ? `; its console: ${errors.slice(0, 5).join(' | ')}` : ''}`, { cause: err });
    });
  const ttfcMs = await page.evaluate<number>(READ_MARK);
  const drawn = await page.evaluate(() => document.getElementById('chart')?.dataset.candles ?? null);
  const candles = drawn === null || drawn === '' ? null : Number(drawn);
  const sizes = await Promise.all(scripts);
  const jsBytes = sizes.reduce((s, n) => s + n.body, 0);
  const jsWireBytes = sizes.reduce((s, n) => s + n.wire, 0);
  if (errors.length > 0) progress(`console errors on ${url}: ${errors.slice(0, 3).join(' | ')}`);
  if (!keepOpen) {
    await context.close();
    return { ttfcMs, jsBytes, jsWireBytes, candles, page: null, wsFrames };
  }
  return { ttfcMs, jsBytes, jsWireBytes, candles, page, wsFrames };
}

interface Frames {
  /** rAF intervals in the window. */
  frames: number;
  /** Intervals longer than 1.5x the reference frame (a frame that came late: at least one was skipped). */
  dropped: number;
  /** Display frames that passed without a new one: the sum over intervals of round(interval / reference) - 1. */
  missed: number;
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * rAF intervals against a reference frame: the bare page's median interval in the same run (the
 * display's period as this headless browser paces it, 16.7 ms at 60 Hz). The page's own median
 * would hide a page that renders slowly all the time.
 */
function frameStats(times: number[], referenceMs?: number): Frames {
  const intervals = times.slice(1).map((t, i) => t - (times[i] as number));
  const med = median(intervals);
  const ref = referenceMs ?? med;
  const sorted = [...intervals].sort((a, b) => a - b);
  return {
    frames: intervals.length,
    dropped: intervals.filter((d) => d > 1.5 * ref).length,
    missed: intervals.reduce((sum, d) => sum + Math.max(0, Math.round(d / ref) - 1), 0),
    medianMs: Math.round(med * 100) / 100,
    p99Ms: Math.round(percentile(sorted, 99) * 10) / 10,
    maxMs: Math.round((sorted.at(-1) ?? Number.NaN) * 10) / 10,
  };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export async function run(): Promise<Record<string, unknown>> {
  progress(`dashboard: ${CANDLES} candles of history, ${ROUNDS} baseline/page pairs, frames over ${SECONDS} s at ${RATE} candles/s`);
  const { platform, config, cleanup } = await benchPlatform('dashboard', {
    BITPREDICT_GATEWAY_AUTH: 'open',
    BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true',
  });
  const redis: Redis = await createRedis({ config: config.redis, logger: platform.logger });
  const failed: { err: Error | null } = { err: null };
  const onFatal = (e: Error): void => {
    failed.err = e;
  };
  const checkFatal = (): void => {
    if (failed.err) throw new Error(`a service failed: ${failed.err.message}`, { cause: failed.err });
  };
  const services: Service[] = [];
  let producer: Producer | null = null;
  let browser: Browser | null = null;
  let baselineServer: Server | null = null;
  try {
    const gateway: GatewayService = await createGateway({ platform, config, redis, host: '127.0.0.1', port: 0, onFatal });
    services.push(gateway);
    services.push(await createFeatureProcessor({ platform, config, redis, onFatal }));
    services.push(await createPredictor({ platform, config, redis, onFatal }));
    for (const s of services) await s.start();
    const readyBy = Date.now() + 60_000;
    while (!services.every((s) => s.readiness().ready)) {
      checkFatal();
      if (Date.now() > readyBy) throw new Error('services not ready within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    producer = await createProducer(platform.kafka);
    const kafkaProducer = producer;

    // History: rows 0..CANDLES-1 of the real file; the replays below continue after the last row sent.
    let nextFrom: number | null = null;
    const replay = async (limit: number, rate: number): Promise<{ last: number; published: number }> => {
      const s = await runReplay({
        platform,
        config,
        producer: kafkaProducer,
        file: HOURLY_MERGED,
        symbol: SYMBOL,
        interval: '1h',
        rate,
        limit,
        from: nextFrom,
      });
      if (s.lastOpenTime === null) throw new Error('the replay published nothing');
      nextFrom = s.lastOpenTime + 3_600_000;
      return { last: s.lastOpenTime, published: s.published };
    };
    const fillStart = Date.now();
    const history = await replay(CANDLES, 0);
    const keys = redisKeys(config.redis.keyPrefix);
    const caughtUpBy = Date.now() + 600_000;
    for (;;) {
      checkFatal();
      const head = JSON.parse((await redis.get(keys.predictionsLatest(SYMBOL))) ?? 'null') as Prediction | null;
      if (head?.eventTime === history.last + 3_600_000) break;
      if (Date.now() > caughtUpBy) throw new Error('the pipeline did not catch up with the history within 10 min');
      await new Promise((r) => setTimeout(r, 200));
    }
    const rest = (await (await fetch(`${gateway.url()}/v1/candles?symbol=${SYMBOL}&interval=1h&limit=${CANDLES}`)).json()) as { count?: number };
    progress(
      `history: ${history.published} candles through features and predictor in ${((Date.now() - fillStart) / 1000).toFixed(1)} s; REST serves ${rest.count}`,
    );

    const js = await bundleBaseline();
    const baseline = await startBaselineServer(Number(new URL(gateway.url()).port), js);
    baselineServer = baseline.server;
    browser = await launchChromium();
    const pageUrl = `${gateway.url()}/`;
    const baselineUrl = `${baseline.url}/`;

    // Time to first chart, alternating so that machine noise hits both.
    await load(browser, baselineUrl);
    await load(browser, pageUrl);
    const pageLoads: Load[] = [];
    const baselineLoads: Load[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      baselineLoads.push(await load(browser, baselineUrl));
      pageLoads.push(await load(browser, pageUrl));
      progress(
        `round ${i + 1}: baseline ${round1(baselineLoads.at(-1)?.ttfcMs ?? Number.NaN)} ms, page ${round1(pageLoads.at(-1)?.ttfcMs ?? Number.NaN)} ms (${pageLoads.at(-1)?.candles} candles)`,
      );
    }

    // Frames while updates arrive: the bare page first (it does not subscribe: the noise floor),
    // then the page, each over its own stretch of the next real candles at RATE per second.
    const framesOf = async (url: string, referenceMs?: number): Promise<Frames & { wsFrames: number }> => {
      const l = await load(browser as Browser, url, true);
      const page = l.page as Page;
      // Let the load settle (the snapshot, the first paints) before the window starts.
      await page.waitForTimeout(1000);
      await page.evaluate(START_FRAMES);
      const framesBefore = l.wsFrames.count;
      await replay(Math.round(RATE * SECONDS), RATE);
      const times = await page.evaluate<number[]>(STOP_FRAMES);
      const wsFrames = l.wsFrames.count - framesBefore;
      await page.context().close();
      return { ...frameStats(times, referenceMs), wsFrames };
    };
    const floor = await framesOf(baselineUrl);
    const live = await framesOf(pageUrl, floor.medianMs);
    progress(
      `frames: page ${live.dropped}/${live.frames} dropped, ${live.missed} missed (median ${live.medianMs} ms); bare page ${floor.dropped}/${floor.frames} (median ${floor.medianMs} ms)`,
    );
    checkFatal();

    const ttfc = median(pageLoads.map((l) => l.ttfcMs));
    const baselineTtfc = median(baselineLoads.map((l) => l.ttfcMs));
    return {
      time_to_first_chart_ms: round1(ttfc),
      baseline_time_to_first_chart_ms: round1(baselineTtfc),
      ratio: Math.round((baselineTtfc / ttfc) * 1000) / 1000,
      ratio_means: 'baseline time to first chart / page time to first chart (medians; 1 = no cost over a bare lightweight-charts page)',
      frames: live.frames,
      frames_dropped: live.dropped,
      frames_missed: live.missed,
      frame_median_ms: live.medianMs,
      frame_p99_ms: live.p99Ms,
      frame_max_ms: live.maxMs,
      ws_messages_in_window: live.wsFrames,
      baseline_frames: floor.frames,
      baseline_frames_dropped: floor.dropped,
      baseline_frames_missed: floor.missed,
      baseline_frame_median_ms: floor.medianMs,
      js_bytes: pageLoads[0]?.jsBytes ?? null,
      baseline_js_bytes: baselineLoads[0]?.jsBytes ?? null,
      js_wire_bytes: pageLoads[0]?.jsWireBytes ?? null,
      baseline_js_wire_bytes: baselineLoads[0]?.jsWireBytes ?? null,
      page_candles_drawn: pageLoads[0]?.candles ?? null,
      history_candles: history.published,
      rest_candles: rest.count ?? null,
      updates_per_s: RATE,
      update_seconds: SECONDS,
      rounds: ROUNDS,
      time_to_first_chart_runs_ms: pageLoads.map((l) => round1(l.ttfcMs)),
      baseline_time_to_first_chart_runs_ms: baselineLoads.map((l) => round1(l.ttfcMs)),
    };
  } finally {
    await browser?.close();
    if (baselineServer) await new Promise<void>((ok) => baselineServer?.close(() => ok()));
    await producer?.close();
    for (const s of services.reverse()) await s.stop();
    // The Redis keys of this run (features, candles and prediction history): the topics go in cleanup().
    const stale = await redis.keys(`${config.redis.keyPrefix}*`);
    if (stale.length > 0) await redis.del(...stale);
    await redis.quit();
    await cleanup();
  }
}
