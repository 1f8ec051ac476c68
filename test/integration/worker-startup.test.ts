// A worker that starts while Kafka does not answer (a broker rollout, a pod scheduled before the
// brokers) stays up: its health server answers first (alive, not ready, with the reason), it
// retries with backoff instead of exiting into CrashLoopBackOff, and it becomes ready once the
// brokers answer. The services run as real CLI processes; "Kafka appears" is a forwarder to the
// local stack's broker opened on the address the worker was given.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, REPO_ROOT, waitFor, type TestPlatform } from '../helpers/platform.js';
import { startTcpProxy, type TcpProxy } from '../helpers/browser.js';
import { freePort } from '../helpers/local-servers.js';

interface Worker {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function startWorker(command: string, env: Record<string, string>): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', command], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BITPREDICT_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** The warn lines of failed connection rounds, as logged. */
function retries(output: string): { attempt: number; nextDelayMs: number; reason: string }[] {
  return output
    .split('\n')
    .filter((l) => l.includes('"msg":"cannot connect to Kafka and the schema registry; retrying'))
    .map((l) => JSON.parse(l) as { level: number; attempt: number; nextDelayMs: number; reason: string })
    .map((l) => {
      expect(l.level).toBe(40);
      return { attempt: l.attempt, nextDelayMs: l.nextDelayMs, reason: l.reason };
    });
}

async function probe(port: number, path: '/healthz' | '/readyz'): Promise<{ status: number; body: { status?: string; checks?: Record<string, string> } }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: (await res.json()) as { status?: string; checks?: Record<string, string> } };
  } catch {
    return { status: 0, body: {} };
  }
}

describe('a worker started while Kafka does not answer', () => {
  let tp: TestPlatform;
  let stackKafkaPort: number;
  const workers: Worker[] = [];
  let proxy: TcpProxy | null = null;

  const childEnv = (): Record<string, string> => ({
    BITPREDICT_TOPIC_PREFIX: tp.prefix,
    BITPREDICT_KAFKA_CLIENT: tp.config.kafka.driver,
    BITPREDICT_REDIS_KEY_PREFIX: tp.config.redis.keyPrefix,
    BITPREDICT_KAFKA_CLIENT_ID: tp.config.kafka.clientId,
  });

  beforeAll(async () => {
    tp = await createTestPlatform('wstart');
    const broker = tp.config.kafka.brokers[0] ?? '127.0.0.1:9092';
    stackKafkaPort = Number(broker.slice(broker.lastIndexOf(':') + 1));
  });

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await proxy?.close();
    await tp?.cleanup();
  });

  it('serves /healthz 200 and /readyz 503 with the reason, retries with growing delays while alive, and is ready once Kafka answers', async () => {
    const kafkaPort = await freePort();
    const healthPort = await freePort();
    const w = startWorker('features', { ...childEnv(), BITPREDICT_KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`, BITPREDICT_HEALTH_PORT: String(healthPort) });
    workers.push(w);

    await waitFor(async () => (await probe(healthPort, '/healthz')).status === 200, '/healthz to answer before Kafka does');
    await waitFor(() => retries(w.output()).length >= 3, 'three failed connection rounds', 100_000);
    expect(w.child.exitCode).toBeNull();
    const rounds = retries(w.output());
    expect(rounds.slice(0, 3).map((r) => r.attempt)).toEqual([1, 2, 3]);
    // Doubling from 1 s with at most half taken off by jitter.
    expect(rounds[0]?.nextDelayMs).toBeGreaterThanOrEqual(500);
    expect(rounds[2]?.nextDelayMs).toBeGreaterThan(rounds[0]?.nextDelayMs ?? 0);
    expect(rounds[0]?.reason).toMatch(new RegExp(`127\\.0\\.0\\.1:${kafkaPort} \\(check BITPREDICT_KAFKA_BROKERS`));
    expect(w.output()).not.toMatch(/stack:up/);

    expect((await probe(healthPort, '/healthz')).status).toBe(200);
    const ready = await probe(healthPort, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks?.startup).toMatch(/^connecting to Kafka and the schema registry: attempt \d+ (failed; next in [\d.]+ s|in progress)$/);
    expect(ready.body.checks?.lastError).toMatch(/^ERR_KAFKA_UNREACHABLE: no Kafka broker answered at 127\.0\.0\.1:\d+/);

    // Kafka appears at the address the worker was given.
    proxy = await startTcpProxy(stackKafkaPort, kafkaPort);
    await waitFor(async () => (await probe(healthPort, '/readyz')).status === 200, 'the worker to be ready once Kafka answers', 90_000);
    expect(w.output()).toMatch(/"msg":"connected after retrying"/);

    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  }, 240_000);

  it('the gateway answers its probes on its own port while connecting, and SIGTERM ends the wait with exit 0', async () => {
    const gatewayPort = await freePort();
    const w = startWorker('gateway', {
      ...childEnv(),
      BITPREDICT_KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
      BITPREDICT_GATEWAY_PORT: String(gatewayPort),
    });
    workers.push(w);
    await waitFor(async () => (await probe(gatewayPort, '/healthz')).status === 200, "/healthz on the gateway's port");
    const ready = await probe(gatewayPort, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks?.startup).toMatch(/^connecting to Kafka and the schema registry/);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.output()).toMatch(/"msg":"stopped before connecting"/);
  });

  it('gives up after BITPREDICT_STARTUP_RETRY_MAX_MS with exit 1 and one clear line', async () => {
    const w = startWorker('features', {
      ...childEnv(),
      BITPREDICT_KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
      BITPREDICT_STARTUP_RETRY_MAX_MS: '1000',
      BITPREDICT_LOG_LEVEL: 'silent',
    });
    workers.push(w);
    expect(await w.exited).toBe(1);
    expect(w.output().trim().split('\n')).toEqual([
      expect.stringMatching(/^bitpredict: ERR_KAFKA_UNREACHABLE: no Kafka broker answered at 127\.0\.0\.1:\d+ \(check BITPREDICT_KAFKA_BROKERS/),
    ]);
  });
});
