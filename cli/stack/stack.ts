// The local stack: Apache Kafka (KRaft, single node, or a cluster with --brokers: cluster.ts) and Apicurio Registry from Maven Central
// jars, plus Redis, all on loopback and without Docker. `up` is idempotent: a server that already
// answers on its port is reused (and reported as owned only when our pid file points at it), so a
// second `up` changes nothing. Servers run detached and outlive the CLI; pid files under
// <stack dir>/pids are the record of what `down` may stop. This file wires the parts together:
// fetch.ts gets the jars, kafka.ts, registry.ts and redis.ts start, stop and report their server,
// server.ts holds what the three share.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { relative } from 'node:path';
import type { StackConfig } from './config.js';
import { BitPredictError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { clusterModeFile, createKafkaCluster, purgeCluster, readClusterSize, type KafkaCluster } from './cluster.js';
import { fetchForStart } from './fetch.js';
import { createJavaFinder, defaultJavaDirs, requiredJavaOfApicurio } from './java.js';
import { createKafka } from './kafka.js';
import { formatHostPort, resolveLayout, type StackLayout } from './layout.js';
import { checkPidFile } from './pidfile.js';
import { probeKafka } from './probe.js';
import { defaultTools, type Tools } from './proc.js';
import { ensureRedis, noteRedisLeftRunning, redisStatus, stopRedis } from './redis.js';
import { createRegistry } from './registry.js';
import { createSecureMode } from './secure-mode.js';
import type { ServerDeps, ServiceStatus, StackJava } from './server.js';

export type { ServiceName, ServiceState, ServiceStatus } from './server.js';

export interface StackStatus {
  readonly dir: string;
  readonly services: readonly ServiceStatus[];
  readonly allUp: boolean;
}

export interface StackDeps {
  readonly config: StackConfig;
  readonly logger: Logger;
  /** Repository root: deployment/local/* is read from here and a relative stack dir resolves against it. */
  readonly rootDir: string;
  /** Human progress lines (the CLI prints them); the logger gets the same events at debug. */
  readonly progress?: (line: string) => void;
  /** Executables, overridable for tests and unusual installs. */
  readonly tools?: Partial<Tools>;
  /** JAVA_HOME of the caller's environment: one more place to look for a JVM new enough for Apicurio. */
  readonly javaHome?: string | undefined;
  /** JDK folders to search; defaults to the usual system locations. */
  readonly jdkDirs?: readonly string[];
}

export interface Stack {
  readonly layout: StackLayout;
  /**
   * `secure`: also the registry behind basic auth and TLS and a Redis with ACL users and TLS (stack up --secure);
   * `brokers`: a KRaft cluster of that many brokers instead of the single one (stack up --brokers N). Both stick until down.
   */
  up(opts?: { secure?: boolean; brokers?: number }): Promise<StackStatus>;
  down(opts?: { purge?: boolean }): Promise<void>;
  status(): Promise<StackStatus>;
  /** The running (or last started) cluster of `up --brokers N`; null in single-broker mode. */
  cluster(): KafkaCluster | null;
  close(): Promise<void>;
}

function relativeToCwd(p: string): string {
  const r = relative(process.cwd(), p);
  return r.startsWith('..') ? p : r;
}

function stackJava(layout: StackLayout, tools: Tools, deps: StackDeps): StackJava {
  const finder = createJavaFinder({ pathJava: tools.java, javaHome: deps.javaHome, jdkDirs: deps.jdkDirs ?? defaultJavaDirs(homedir()) });
  return {
    // Kafka 4 brokers need Java 17; Apicurio states its need in its class files.
    kafka: () => finder.find(17, `Kafka ${layout.kafka.version}`),
    registry: () => finder.find(requiredJavaOfApicurio(layout.registry.homeDir), `Apicurio Registry ${layout.registry.version}`),
  };
}

/** `down --purge`: the data of all three servers goes; the fetched jars stay. */
async function purge(server: ServerDeps): Promise<void> {
  const { layout, say, rel } = server;
  if ((await probeKafka(layout.kafka.listen)) === 'answers') {
    say(`kafka: a Kafka not started by the stack still answers on ${formatHostPort(layout.kafka.listen)}; purging ${rel(layout.kafka.dataDir)} anyway`);
  }
  rmSync(layout.kafka.dataDir, { recursive: true, force: true });
  rmSync(layout.kafka.clusterIdFile, { force: true });
  rmSync(layout.registry.dataDir, { recursive: true, force: true });
  rmSync(layout.redis.dataDir, { recursive: true, force: true });
  purgeCluster(layout);
  say(`purged ${rel(layout.kafka.dataDir)} and ${rel(layout.registry.dataDir)} (topics, offsets, cluster id and schemas are gone)`);
}

export function createStack(deps: StackDeps): Stack {
  const layout = resolveLayout(deps.config, deps.rootDir);
  const tools: Tools = { ...defaultTools, ...deps.tools };
  const logger = deps.logger.child({ component: 'stack' });
  const say = (line: string): void => {
    logger.debug({ event: line }, 'stack progress');
    deps.progress?.(line);
  };
  const server: ServerDeps = { layout, tools, logger, java: stackJava(layout, tools, deps), say, rel: relativeToCwd };
  const kafka = createKafka(server);
  const registry = createRegistry(server);
  const secureMode = createSecureMode({ ...server, redisServer: tools.redisServer });

  /** The cluster of the mode file (a running `up --brokers N`), or null. */
  function runningCluster(): KafkaCluster | null {
    const size = readClusterSize(layout);
    return size === null ? null : createKafkaCluster(server, size);
  }

  /** Which Kafka `up` runs: the size asked for, else the one recorded until down, else the single broker. */
  function kafkaMode(asked: number | undefined, secure: boolean): number {
    const recorded = readClusterSize(layout) ?? 1;
    if (asked !== undefined && asked !== recorded && (recorded > 1 || checkPidFile(layout.kafka.pidFile, 'kafka.Kafka').alive)) {
      throw new BitPredictError(
        'ERR_STACK',
        `this stack runs ${recorded === 1 ? 'a single broker' : `a cluster of ${recorded} brokers`}; stop it first (npm run stack:down) to switch to ${asked === 1 ? 'a single broker' : `${asked} brokers`}`,
      );
    }
    const size = asked ?? recorded;
    if (size > 1 && (secure || secureMode.enabled())) {
      throw new BitPredictError('ERR_STACK', 'the secure mode (--secure) runs with the single broker only; use either --secure or --brokers');
    }
    return size;
  }

  async function up(opts: { secure?: boolean; brokers?: number } = {}): Promise<StackStatus> {
    const size = kafkaMode(opts.brokers, opts.secure === true);
    mkdirSync(layout.logsDir, { recursive: true });
    mkdirSync(layout.pidsDir, { recursive: true });
    const redis = await ensureRedis({ layout, redisServer: tools.redisServer, say });
    if (size > 1) {
      const cluster = createKafkaCluster(server, size);
      const [kafkaNeeded, registryNeeded] = await Promise.all([cluster.needsStart(), registry.needsStart()]);
      await fetchForStart({ layout, tools, progress: say }, server.java, { kafka: kafkaNeeded, registry: registryNeeded });
      mkdirSync(layout.kafka.configDir, { recursive: true });
      writeFileSync(clusterModeFile(layout), `${size}\n`);
      const [nodes, registryStatus] = await Promise.all([cluster.start(), registry.start()]);
      const services = [...nodes, registryStatus, redis];
      logger.debug({ brokers: size, services: services.map((s) => ({ name: s.name, pid: s.pid, action: s.action })) }, 'local stack is up');
      return { dir: layout.dir, services, allUp: services.every((s) => s.state === 'running') };
    }
    const [kafkaNeeded, registryNeeded] = await Promise.all([kafka.needsStart(), registry.needsStart()]);
    await fetchForStart({ layout, tools, progress: say }, server.java, { kafka: kafkaNeeded, registry: registryNeeded });
    // The JVMs start in parallel: Apicurio's start-up dominates and does not depend on Kafka.
    const [kafkaStatus, registryStatus] = await Promise.all([kafka.start(), registry.start()]);
    const services = [kafkaStatus, registryStatus, redis];
    // Secure mode needs the broker's keystore and CA (made by kafka.start) and the registry to forward to.
    if (opts.secure === true || secureMode.enabled()) services.push(...(await secureMode.up(server.java.kafka())));
    logger.debug({ services: services.map((s) => ({ name: s.name, pid: s.pid, owned: s.owned, action: s.action })) }, 'local stack is up');
    return { dir: layout.dir, services, allUp: services.every((s) => s.state === 'running') };
  }

  async function down(opts: { purge?: boolean } = {}): Promise<void> {
    const cluster = runningCluster();
    await Promise.all([kafka.stop(), cluster?.stop(), registry.stop(), stopRedis(server), secureMode.down()]);
    rmSync(clusterModeFile(layout), { force: true });
    await noteRedisLeftRunning(server);
    if (opts.purge === true) await purge(server);
    logger.debug({ purge: opts.purge === true }, 'local stack is down');
  }

  async function status(): Promise<StackStatus> {
    const cluster = runningCluster();
    const [kafkaStatuses, ...others] = await Promise.all([
      cluster ? cluster.status() : kafka.status().then((s) => [s]),
      registry.status(),
      redisStatus(layout),
    ]);
    const services = [...kafkaStatuses, ...others];
    // The secure servers are listed in secure mode, and whenever one of them still runs.
    const extra = await secureMode.status();
    if (secureMode.enabled() || extra.some((s) => s.state !== 'stopped')) services.push(...extra);
    return { dir: layout.dir, services, allUp: services.every((s) => s.state === 'running') };
  }

  return {
    layout,
    up,
    down,
    status,
    cluster: runningCluster,
    close: () => Promise.resolve(),
  };
}
