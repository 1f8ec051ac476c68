// Services as real child processes for the chaos scenarios (flood, abuse, fuzz, security): each is
// `bitpredict <command>` on the test platform's topic and Redis prefixes, with its own health port
// (or, for the gateway, its own HTTP port) so the scenario can wait for readiness and read its
// metrics. Every line a child writes is kept (the security scenario scans them for secrets), its
// resident memory is sampled from /proc/<pid>/status while it runs, and an exit the scenario did
// not ask for is counted as a crash.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort } from '../helpers/local-servers.js';
import type { ConfigKey } from '../../core/config.js';
import { mulberry32 } from '../../core/random.js';
import { atScale as atScaleOf, chaosScale, type ChaosScale } from './chaos-a-common.js';
import { REPO_ROOT, waitFor, type TestPlatform } from '../helpers/platform.js';

/** The suite's size: 'ci' (unset, what `npm test` runs) or 'full' (`npm run test:chaos`). Read once. */
export const CHAOS_SCALE: ChaosScale = chaosScale();

/** The figure for the current scale. */
export function atScale<T>(ci: T, full: T): T {
  return atScaleOf({ ci, full });
}

/** VmRSS of a process in MB, or null once it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export interface ChaosProcess {
  readonly name: string;
  readonly pid: number;
  /** Base URL of its HTTP port: the health server of a worker, the gateway itself. */
  readonly url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Highest RSS sampled so far (MB). */
  peakRssMb(): number;
  /** RSS now (MB), null once it exited. */
  rssMb(): number | null;
  /** Exits the scenario did not cause (0 or 1: a process is not restarted here). */
  crashes(): number;
  /** The body of GET /metrics. */
  metrics(): Promise<string>;
  /** SIGTERM, then the exit code (SIGKILL after 20 s). */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  /** The CLI command: features, sentiment, predictor, trainer, gateway. */
  command: string;
  /** Env-style config on top of the platform's prefixes. */
  env?: Partial<Record<ConfigKey, string>>;
  /** RSS sampling period (ms). */
  sampleMs?: number;
}

/** The connection settings of this run (brokers, registry, Redis, security) that a child must share. */
function inheritedEnv(): Record<string, string> {
  const out: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('BITPREDICT_') && v !== undefined) out[k] = v;
  return out;
}

/** Starts `bitpredict <command>` and resolves once it says it is ready (its /readyz answers 200). */
export async function startService(tp: TestPlatform, opts: StartOptions): Promise<ChaosProcess> {
  const port = await freePort();
  const isGateway = opts.command === 'gateway';
  const env: Record<string, string> = {
    ...inheritedEnv(),
    BITPREDICT_TOPIC_PREFIX: tp.prefix,
    BITPREDICT_KAFKA_CLIENT: tp.config.kafka.driver,
    BITPREDICT_REDIS_KEY_PREFIX: tp.config.redis.keyPrefix,
    BITPREDICT_KAFKA_CLIENT_ID: tp.config.kafka.clientId,
    BITPREDICT_LOG_LEVEL: 'info',
    BITPREDICT_CONSUMER_SESSION_TIMEOUT_MS: '6000',
    ...(isGateway ? { BITPREDICT_GATEWAY_HOST: '127.0.0.1', BITPREDICT_GATEWAY_PORT: String(port) } : { BITPREDICT_HEALTH_PORT: String(port) }),
    ...opts.env,
  };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', opts.command], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`bitpredict ${opts.command} did not start`);
  let out = '';
  const collect = (d: Buffer): void => {
    out += d.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let peak = 0;
  const sample = (): void => {
    const v = rssMb(pid);
    if (v !== null && v > peak) peak = v;
  };
  const sampler = setInterval(sample, opts.sampleMs ?? 200);
  let stopping = false;
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      clearInterval(sampler);
      exitCode = code ?? (signal ? -1 : null);
      resolve(exitCode);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const proc: ChaosProcess = {
    name: opts.command,
    pid,
    url,
    output: () => out,
    peakRssMb: () => peak,
    rssMb: () => (exitCode === undefined ? rssMb(pid) : null),
    crashes: () => (exitCode !== undefined && !stopping ? 1 : 0),
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    async stop() {
      if (exitCode !== undefined) return exitCode;
      stopping = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  const ready = async (): Promise<boolean> => {
    if (exitCode !== undefined) throw new Error(`bitpredict ${opts.command} exited with ${String(exitCode)} while starting:\n${out.slice(-4000)}`);
    try {
      return (await fetch(`${url}/readyz`)).status === 200;
    } catch {
      return false;
    }
  };
  try {
    // Generous: five processes compiling TypeScript at once on a loaded 2-core machine take minutes.
    await waitFor(ready, `bitpredict ${opts.command} to be ready`, 180_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

/** Stops every process (in reverse start order); returns what each exited with. */
export async function stopAll(procs: readonly ChaosProcess[]): Promise<Map<string, number | null>> {
  const codes = new Map<string, number | null>();
  for (const p of [...procs].reverse()) codes.set(p.name, await p.stop());
  return codes;
}

/** The value of a Prometheus sample (the sum over matching label sets; 0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** A seeded PRNG (core's mulberry32): the same seed gives the same run. */
export function seededRandom(seed: number): () => number {
  return mulberry32(seed);
}
