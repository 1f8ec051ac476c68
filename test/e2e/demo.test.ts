// The demo as a user runs it: it starts on the (already running) stack, replays real candles,
// streams predictions to a WebSocket client, and on SIGINT (Ctrl-C) shuts down cleanly, leaving
// no process behind and the stack it did not start still running. It passes --no-train: the first
// model's training (cli/demo-train.ts) would take minutes, and its replayed history here is 2025
// data, on which tests never compute figures; the demo serves the baselines and says so.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { REPO_ROOT, uniqueId, waitFor } from '../helpers/platform.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createKafkaClient, createAdmin } from '../../core/kafka/client.js';
import { topicSpecs } from '../../core/kafka/topics.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockExchange, type MockKline } from '../helpers/mock-exchange.js';
import { TEXT_DATA_FILES } from '../../core/data/text/index.js';
import { HOURLY_MERGED, hasSharedData, SHARED_DATA_DIR } from '../helpers/shared-data.js';

const prefix = `t.${uniqueId('demo')}.`;
const fetchPrefix = `t.${uniqueId('demofetch')}.`;
const HOUR = 3_600_000;

/** The last `days` of closed hourly klines up to now, a deterministic walk (the exchange's history, served by the mock). */
function recentKlines(days: number): MockKline[] {
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  const out: MockKline[] = [];
  let price = 60_000;
  for (let t = end - days * 24 * HOUR; t < end; t += HOUR) {
    const i = out.length;
    const open = price;
    const close = open * (1 + Math.sin(i / 7) * 0.004 + ((i * 7919) % 13) / 13_000 - 0.0005);
    out.push({
      openTime: t,
      open,
      high: Math.max(open, close) * 1.002,
      low: Math.min(open, close) * 0.998,
      close,
      volume: 10 + (i % 17),
      quoteVolume: 0,
      trades: 100,
    });
    price = close;
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function descendants(pid: number): number[] {
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
    return kids.flatMap((k) => [k, ...descendants(k)]);
  } catch {
    return [];
  }
}

interface DemoPrediction {
  symbol: string;
  isBaseline: boolean;
  eventTime: number;
}

/** The demo as a child process with the given flags and settings; `out()` is its output so far (stdout and stderr). */
function startDemo(args: string[], env: Record<string, string>): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'demo', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, BITPREDICT_GATEWAY_PORT: '0', BITPREDICT_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

/** Once the demo prints its WebSocket address: a client subscribed to predictions:BTCUSDT, collecting them. */
async function subscribePredictions(out: () => string): Promise<{ ws: WebSocket; predictions: DemoPrediction[] }> {
  await waitFor(() => /websocket:\s+ws:\/\/\S+\/ws/.test(out()), 'the demo to print its WebSocket address', 90_000);
  const url = /websocket:\s+(ws:\/\/\S+\/ws)/.exec(out())?.[1] as string;
  const ws = new WebSocket(url);
  const predictions: DemoPrediction[] = [];
  ws.on('message', (d) => {
    const msg = JSON.parse((d as Buffer).toString()) as { type: string; data?: DemoPrediction };
    if (msg.type === 'prediction' && msg.data) predictions.push(msg.data);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ op: 'subscribe', channel: 'predictions:BTCUSDT' }));
  return { ws, predictions };
}

describe('npm run demo', () => {
  afterAll(async () => {
    const config = loadConfig(process.env, { BITPREDICT_TOPIC_PREFIX: prefix });
    const admin = await createAdmin(
      createKafkaClient({ brokers: config.kafka.brokers, clientId: 'demo-test-cleanup', driver: config.kafka.driver }, createLogger({ level: 'silent' })),
    );
    for (const p of [prefix, fetchPrefix])
      await admin.deleteTopics(topicSpecs({ prefix: p, partitions: 1, replicationFactor: 1 }).map((t) => t.name)).catch(() => undefined);
    await admin.close();
  });

  // The demo replays the real merged hourly file and every text file of the data folder.
  it.skipIf(!hasSharedData(HOURLY_MERGED, ...TEXT_DATA_FILES))('streams predictions over WebSocket and stops cleanly on SIGINT', async () => {
    const {
      child,
      out: output,
      exited,
    } = startDemo(['--live-from', '2025-11-20T00:00:00Z', '--rate', '20', '--no-train'], {
      BITPREDICT_TOPIC_PREFIX: prefix,
      BITPREDICT_REDIS_KEY_PREFIX: `bp:test:${prefix}`,
      BITPREDICT_DATA_DIR: SHARED_DATA_DIR,
      BITPREDICT_REPLAY_FILE: HOURLY_MERGED,
      BITPREDICT_REPLAY_FROM: '2025-10-01T00:00:00Z',
    });
    try {
      const { ws, predictions } = await subscribePredictions(output);
      await waitFor(() => predictions.length >= 20, 'live predictions from the demo', 60_000);
      expect(predictions.every((p) => p.symbol === 'BTCUSDT' && p.isBaseline)).toBe(true);
      const out = output();
      expect(out).toMatch(/\[demo\] serving the baselines .* from the start/);
      expect(out).toMatch(/\[demo\] not training a first model \(--no-train\): the demo serves the baselines only/);
      const times = predictions.map((p) => p.eventTime);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      ws.close();

      const family = [child.pid as number, ...descendants(child.pid as number)];
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
      expect(code).toBe(0);
      expect(output()).toMatch(/\[demo\] stopped cleanly/);
      await waitFor(() => family.every((pid) => !alive(pid)), 'every demo process to exit', 10_000);
      // The stack was running before the demo, so the demo leaves it running.
      expect(output()).toMatch(/leaving the stack running/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  // A clone from GitHub has no ../shared/data: the demo fetches the last days of candles from
  // Binance's public REST API (here the local mock speaking its format) before anything starts,
  // replays them without texts, and streams predictions as with the full history.
  it('without a data folder: fetches candles from the exchange first, then streams predictions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-fetch-'));
    const mock = await startMockExchange();
    mock.binanceKlines.set('BTCUSDT:1h', recentKlines(20));
    const {
      child,
      out: output,
      exited,
    } = startDemo(['--fetch', '--fetch-days', '20', '--fetch-file', join(dir, 'btc.csv'), '--rate', '20', '--no-train'], {
      BITPREDICT_TOPIC_PREFIX: fetchPrefix,
      BITPREDICT_REDIS_KEY_PREFIX: `bp:test:${fetchPrefix}`,
      BITPREDICT_BINANCE_REST_URL: mock.binanceRestUrl,
      // A folder without the data sets: as on a clone without ../shared, no texts.
      BITPREDICT_DATA_DIR: dir,
    });
    try {
      const { ws, predictions } = await subscribePredictions(output);
      const out = output();
      // The fetch came first, before the stack and the banner.
      const fetchedAt = out.indexOf('fetching the last 20 days of BTCUSDT 1h candles');
      expect(fetchedAt).toBeGreaterThanOrEqual(0);
      expect(fetchedAt).toBeLessThan(out.indexOf('starting the local stack'));
      // 480 closed candles in 20 days; the first is before the range when now is past the full hour.
      const fetched = /\[demo\] fetched (\d+) new candles; (\d+) in \S+btc\.csv, 0 gaps/.exec(out);
      expect(fetched?.[1]).toMatch(/^(479|480)$/);
      expect(fetched?.[2]).toBe(fetched?.[1]);
      expect(readFileSync(join(dir, 'btc.csv'), 'utf8').trim().split('\n')).toHaveLength(Number(fetched?.[1]) + 1);
      expect(out).toMatch(/\[demo\] no texts: no data folder holds them, so every sentiment feature is zero/);
      await waitFor(() => predictions.length >= 20, 'live predictions from the fetched candles', 60_000);
      const lastCandle = recentKlines(20).at(-1)!.openTime;
      expect(predictions.every((p) => p.symbol === 'BTCUSDT' && p.eventTime <= lastCandle + HOUR)).toBe(true);
      ws.close();
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await mock.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
