// The broker chaos scenarios' own three-broker cluster (test/chaos/scenarios/brokers.test.ts): the
// stack's `up --brokers 3` in its own stack dir (.stack/chaos-brokers) on its own ports (39092,
// 39192, 39292; controllers 39093, 39193, 39293), beside the single-broker stack the rest of the
// suite uses, whose registry and Redis it shares (BITPREDICT_REGISTRY_URL and BITPREDICT_REDIS_URL
// of the environment the test runs with). The Kafka jars come from that stack's dir when it has
// them (a link, no second download), else the stack fetches them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { activeController, type KafkaCluster } from '../../cli/stack/cluster.js';
import { loadStackConfig } from '../../cli/stack/config.js';
import { createStack, type Stack } from '../../cli/stack/stack.js';
import { createLogger } from '../../core/logger.js';
import { isProcessAlive } from '../../cli/stack/pidfile.js';
import { REPO_ROOT } from '../helpers/platform.js';
import { chaosScale, type ChaosScale } from './chaos-a-common.js';

/** CHAOS_SCALE, read once: "full" under npm run test:chaos, else (npm test, CI) "ci". */
export const BROKERS_SCALE: ChaosScale = chaosScale();

export const CLUSTER_SIZE = 3;
export const CLUSTER_STACK_DIR = resolve(REPO_ROOT, '.stack', 'chaos-brokers');
const BASE_PORT = 39092;

export interface ChaosCluster {
  readonly bootstrap: string;
  readonly cluster: KafkaCluster;
  /** Node id of the active controller, as the cluster says (DescribeQuorum). */
  controller(): Promise<number>;
  /** kill -9 of one node; resolves once the process is gone. */
  kill(id: number): Promise<void>;
  /** Starts a killed node again and waits until it answers. */
  restart(id: number): Promise<void>;
  stop(): Promise<void>;
}

/** Links the single-broker stack's Kafka jars into the cluster's dir, so nothing is downloaded twice. */
function shareJars(version: string): void {
  const own = join(CLUSTER_STACK_DIR, `kafka-${version}`);
  const theirs = join(resolve(REPO_ROOT, process.env.BITPREDICT_STACK_DIR ?? '.stack'), `kafka-${version}`);
  if (existsSync(own) || !existsSync(join(theirs, '.complete'))) return;
  mkdirSync(CLUSTER_STACK_DIR, { recursive: true });
  symlinkSync(theirs, own);
}

export async function startChaosCluster(): Promise<ChaosCluster> {
  const config = loadStackConfig(process.env, {
    BITPREDICT_STACK_DIR: CLUSTER_STACK_DIR,
    BITPREDICT_KAFKA_BROKERS: `127.0.0.1:${BASE_PORT}`,
    BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: String(BASE_PORT + 1),
    BITPREDICT_STACK_KAFKA_SECURE_PORT: String(BASE_PORT + 2),
    // Three JVMs on a small machine: a small heap each is plenty for test traffic.
    BITPREDICT_STACK_KAFKA_HEAP: '256m',
  });
  shareJars(config.stack.kafkaVersion);
  const stack: Stack = createStack({
    config,
    logger: createLogger({ level: 'silent' }),
    rootDir: REPO_ROOT,
    javaHome: config.stack.javaHome,
    progress: process.env.CHAOS_VERBOSE ? (line) => process.stderr.write(`chaos-brokers: ${line}\n`) : undefined,
  });
  await stack.up({ brokers: CLUSTER_SIZE });
  const cluster = stack.cluster();
  if (cluster === null) throw new Error('stack up --brokers 3 left no cluster');
  return {
    bootstrap: cluster.cluster.bootstrap,
    cluster,
    controller: async () => (await activeController(cluster.cluster)).leaderId,
    async kill(id) {
      const pid = cluster.pidOf(id);
      if (pid === null) throw new Error(`broker ${id} is not running`);
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 10_000;
      while (isProcessAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    },
    async restart(id) {
      await cluster.startNode(id);
    },
    stop: () => stack.down(),
  };
}

/**
 * A BitPredict service as a real CLI process on the cluster: the connection settings of the test's
 * environment (registry, Redis) with the cluster's bootstrap list, and the test's own settings.
 */
export function spawnService(service: string, bootstrap: string, settings: Record<string, string>, onOutput: (text: string) => void): ChildProcess {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key.startsWith('BITPREDICT_') && !key.startsWith('BITPREDICT_STACK_')) env[key] = value;
  }
  Object.assign(env, settings, { BITPREDICT_KAFKA_BROKERS: bootstrap, BITPREDICT_TOPIC_REPLICATION: String(CLUSTER_SIZE) });
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', service], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => onOutput(d.toString()));
  child.stderr?.on('data', (d: Buffer) => onOutput(d.toString()));
  return child;
}
