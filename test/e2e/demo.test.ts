// The demo as a user runs it: it starts on the (already running) stack, replays real candles,
// streams predictions to a WebSocket client, and on SIGINT (Ctrl-C) shuts down cleanly, leaving
// no process behind and the stack it did not start still running. It passes --no-train: the first
// model's training (cli/demo-train.ts) would take minutes, and its replayed history here is 2025
// data, on which tests never compute figures; the demo serves the baselines and says so.
import { spawn, execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { REPO_ROOT, uniqueId, waitFor } from '../helpers/platform.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createKafkaClient, createAdmin } from '../../core/kafka/client.js';
import { topicSpecs } from '../../core/kafka/topics.js';
import { TEXT_DATA_FILES } from '../../core/data/text/index.js';
import { HOURLY_MERGED, hasSharedData, SHARED_DATA_DIR } from '../helpers/shared-data.js';

const prefix = `t.${uniqueId('demo')}.`;

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

// The demo replays the real merged hourly file and every text file of the data folder.
describe.skipIf(!hasSharedData(HOURLY_MERGED, ...TEXT_DATA_FILES))('npm run demo', () => {
  afterAll(async () => {
    const config = loadConfig(process.env, { BITPREDICT_TOPIC_PREFIX: prefix });
    const admin = await createAdmin(
      createKafkaClient({ brokers: config.kafka.brokers, clientId: 'demo-test-cleanup', driver: config.kafka.driver }, createLogger({ level: 'silent' })),
    );
    await admin.deleteTopics(topicSpecs({ prefix, partitions: 1, replicationFactor: 1 }).map((t) => t.name)).catch(() => undefined);
    await admin.close();
  });

  it('streams predictions over WebSocket and stops cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'demo', '--live-from', '2025-11-20T00:00:00Z', '--rate', '20', '--no-train'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        BITPREDICT_TOPIC_PREFIX: prefix,
        BITPREDICT_REDIS_KEY_PREFIX: `bp:test:${prefix}`,
        BITPREDICT_DATA_DIR: SHARED_DATA_DIR,
        BITPREDICT_REPLAY_FILE: HOURLY_MERGED,
        BITPREDICT_REPLAY_FROM: '2025-10-01T00:00:00Z',
        BITPREDICT_GATEWAY_PORT: '0',
        BITPREDICT_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /websocket:\s+ws:\/\/\S+\/ws/.test(out), 'the demo to print its WebSocket address', 90_000);
      const url = /websocket:\s+(ws:\/\/\S+\/ws)/.exec(out)?.[1] as string;
      const ws = new WebSocket(url);
      const predictions: { symbol: string; isBaseline: boolean; eventTime: number }[] = [];
      ws.on('message', (d) => {
        const msg = JSON.parse((d as Buffer).toString()) as { type: string; data?: { symbol: string; isBaseline: boolean; eventTime: number } };
        if (msg.type === 'prediction' && msg.data) predictions.push(msg.data);
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(JSON.stringify({ op: 'subscribe', channel: 'predictions:BTCUSDT' }));
      await waitFor(() => predictions.length >= 20, 'live predictions from the demo', 60_000);
      expect(predictions.every((p) => p.symbol === 'BTCUSDT' && p.isBaseline)).toBe(true);
      expect(out).toMatch(/\[demo\] serving the baselines .* from the start/);
      expect(out).toMatch(/\[demo\] not training a first model \(--no-train\): the demo serves the baselines only/);
      const times = predictions.map((p) => p.eventTime);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      ws.close();

      const family = [child.pid as number, ...descendants(child.pid as number)];
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
      expect(code).toBe(0);
      expect(out).toMatch(/\[demo\] stopped cleanly/);
      await waitFor(() => family.every((pid) => !alive(pid)), 'every demo process to exit', 10_000);
      // The stack was running before the demo, so the demo leaves it running.
      expect(out).toMatch(/leaving the stack running/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
