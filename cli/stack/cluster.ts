// A multi-broker KRaft cluster in the local stack (`stack up --brokers 3`): N JVMs from the same
// Kafka jars as the single broker, each a combined broker + controller, with a static controller
// quorum of all N. Node i (1-based) listens on the single broker's ports + 100 * (i - 1), so node 1
// has the single broker's addresses and the default cluster is 9092/9192/9292 (controllers
// 9093/9193/9293). Every topic gets replication factor N (the broker default, and what
// BITPREDICT_TOPIC_REPLICATION must say: <stack dir>/kafka/cluster.env) and min.insync.replicas 2,
// the internal topics (__consumer_offsets, __transaction_state) included, so one broker can die
// without stopping producers, transactions or consumers.
//
// The cluster is plaintext only (no SASL_SSL listener, no authorizer): the secure listener stays a
// single-broker feature (`stack up --secure`). The mode sticks until `down`: <stack dir>/kafka/brokers
// holds the size, so `up` and `status` without --brokers keep to the cluster.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BitPredictError } from '../../core/errors.js';
import { ensureClusterId, KAFKA_CMD_MARK, KAFKA_READY_LINE, kafkaJvmArgs, storageFormatArgs } from './kafka.js';
import { formatHostPort, type HostPort, type StackLayout } from './layout.js';
import { checkPidFile, isProcessAlive, removePidFile, writePidFile } from './pidfile.js';
import { describeQuorumLeader, isPortOpen, probeKafka, type QuorumLeader } from './probe.js';
import { fileContainsSince, fileSize, lastLine, readTextOrNull, runAsync, spawnDetached } from './proc.js';
import { jvmStatus, stopOwned, waitUntilReady, type JvmServerSpec, type ServerDeps, type ServiceStatus } from './server.js';

/** Largest cluster the stack runs (each node is a JVM with its own heap). */
export const MAX_BROKERS = 5;
/** Port step between nodes: node i listens on the single broker's ports + PORT_STEP * (i - 1). */
export const PORT_STEP = 100;

export interface ClusterNode {
  readonly id: number;
  /** Service name in `stack status`: kafka-1, kafka-2, ... */
  readonly name: `kafka-${number}`;
  readonly listen: HostPort;
  readonly controller: HostPort;
  readonly configDir: string;
  readonly propertiesFile: string;
  readonly dataDir: string;
  readonly logsDir: string;
  readonly serverLog: string;
  readonly outFile: string;
  readonly pidFile: string;
}

export interface ClusterLayout {
  readonly size: number;
  readonly nodes: readonly ClusterNode[];
  /** min.insync.replicas of every topic: 2 from three brokers on (one may be down), else 1. */
  readonly minInsync: number;
  /** The bootstrap list of all nodes: what BITPREDICT_KAFKA_BROKERS must be for clients. */
  readonly bootstrap: string;
  /** BITPREDICT_KAFKA_BROKERS and BITPREDICT_TOPIC_REPLICATION for the services, to source or --env-file. */
  readonly clientEnv: string;
  readonly heap: string;
  readonly libsDir: string;
}

/** Where `up --brokers N` records N until `down`. */
export function clusterModeFile(layout: Pick<StackLayout, 'kafka'>): string {
  return join(layout.kafka.configDir, 'brokers');
}

/** Parses the --brokers value: a whole number from 1 to MAX_BROKERS. */
export function parseBrokerCount(text: string | undefined): number {
  if (text === undefined || !/^\d{1,2}$/.test(text) || Number(text) < 1 || Number(text) > MAX_BROKERS) {
    throw new BitPredictError('ERR_STACK', `--brokers takes a number of brokers from 1 to ${MAX_BROKERS}, got ${JSON.stringify(text ?? '')}`);
  }
  return Number(text);
}

/** The size recorded by a running cluster's `up`, or null (single-broker mode). */
export function readClusterSize(layout: Pick<StackLayout, 'kafka'>): number | null {
  const text = readTextOrNull(clusterModeFile(layout))?.trim();
  if (text === undefined || text === '') return null;
  const n = Number(text);
  return Number.isInteger(n) && n > 1 && n <= MAX_BROKERS ? n : null;
}

function shifted(hp: HostPort, i: number, what: string): HostPort {
  const port = hp.port + PORT_STEP * i;
  if (port > 65535) throw new BitPredictError('ERR_STACK', `broker ${i + 1}'s ${what} port ${port} is above 65535; use a lower base port`);
  return { host: hp.host, port };
}

export function clusterLayout(layout: Pick<StackLayout, 'kafka' | 'logsDir' | 'pidsDir'>, size: number): ClusterLayout {
  if (!Number.isInteger(size) || size < 2 || size > MAX_BROKERS) {
    throw new BitPredictError('ERR_STACK', `a cluster has 2 to ${MAX_BROKERS} brokers, not ${size}`);
  }
  const k = layout.kafka;
  const nodes = Array.from({ length: size }, (_, i): ClusterNode => {
    const id = i + 1;
    const configDir = join(k.configDir, `node-${id}`);
    const logsDir = join(layout.logsDir, `kafka-${id}`);
    return {
      id,
      name: `kafka-${id}`,
      listen: shifted(k.listen, i, 'broker'),
      controller: shifted(k.controller, i, 'controller'),
      configDir,
      propertiesFile: join(configDir, 'server.properties'),
      dataDir: join(configDir, 'data'),
      logsDir,
      serverLog: join(logsDir, 'kafka-server.log'),
      outFile: join(logsDir, 'kafka.out'),
      pidFile: join(layout.pidsDir, `kafka-${id}.pid`),
    };
  });
  const taken = new Map<number, string>();
  for (const n of nodes) {
    for (const [what, hp] of [
      ['broker', n.listen],
      ['controller', n.controller],
    ] as const) {
      const other = taken.get(hp.port);
      if (other !== undefined) {
        throw new BitPredictError(
          'ERR_STACK',
          `broker ${n.id}'s ${what} port ${hp.port} is also ${other}; brokers are ${PORT_STEP} ports apart, so keep the controller port (BITPREDICT_STACK_KAFKA_CONTROLLER_PORT) within ${PORT_STEP - 1} of the broker port but not equal to it`,
        );
      }
      taken.set(hp.port, `broker ${n.id}'s ${what} port`);
    }
  }
  return {
    size,
    nodes,
    minInsync: size >= 3 ? 2 : 1,
    bootstrap: nodes.map((n) => formatHostPort(n.listen)).join(','),
    clientEnv: join(k.configDir, 'cluster.env'),
    heap: k.heap,
    libsDir: k.libsDir,
  };
}

/** server.properties of one node: combined broker + controller, static quorum of every node. */
export function renderClusterNodeProperties(cluster: ClusterLayout, node: ClusterNode): string {
  const voters = cluster.nodes.map((n) => `${n.id}@${formatHostPort(n.controller)}`).join(',');
  const rf = cluster.size;
  const isr = cluster.minInsync;
  const entries: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', node.id],
    ['controller.quorum.voters', voters],
    ['listeners', `PLAINTEXT://${formatHostPort(node.listen)},CONTROLLER://${formatHostPort(node.controller)}`],
    ['advertised.listeners', `PLAINTEXT://${formatHostPort(node.listen)}`],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'PLAINTEXT'],
    ['listener.security.protocol.map', 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT'],
    ['log.dirs', node.dataDir],
    ['num.partitions', 3],
    // Every topic, BitPredict's and Kafka's own, survives one broker down: RF = cluster size, min ISR 2.
    ['default.replication.factor', rf],
    ['min.insync.replicas', isr],
    ['offsets.topic.replication.factor', rf],
    ['transaction.state.log.replication.factor', rf],
    ['transaction.state.log.min.isr', isr],
    ['share.coordinator.state.topic.replication.factor', rf],
    ['share.coordinator.state.topic.min.isr', isr],
    // A dead replica must never come back as leader with records the others lack.
    ['unclean.leader.election.enable', 'false'],
    ['auto.create.topics.enable', 'false'],
    ['group.initial.rebalance.delay.ms', 0],
    ['num.recovery.threads.per.data.dir', 1],
  ];
  const lines = [`# Generated by \`bitpredict stack up --brokers ${cluster.size}\` (node ${node.id}); edits are overwritten.`];
  for (const [key, value] of entries) lines.push(`${key}=${String(value)}`);
  return `${lines.join('\n')}\n`;
}

/** What a service needs to use the cluster (source it, or `--env-file` it). */
export function renderClusterClientEnv(cluster: ClusterLayout): string {
  return [
    `# Generated by \`bitpredict stack up --brokers ${cluster.size}\`: settings of a BitPredict service using this cluster.`,
    `BITPREDICT_KAFKA_BROKERS=${cluster.bootstrap}`,
    `BITPREDICT_TOPIC_REPLICATION=${cluster.size}`,
    '',
  ].join('\n');
}

export interface KafkaCluster {
  readonly cluster: ClusterLayout;
  /** True when `up` has a node to start (jars needed); throws early when a node's port is taken by something else. */
  needsStart(): Promise<boolean>;
  /** Starts every node that is not running, in parallel (a quorum needs its voters), and waits for all. */
  start(): Promise<ServiceStatus[]>;
  /** Starts one node (after a kill) and waits until it answers. */
  startNode(id: number): Promise<ServiceStatus>;
  stop(): Promise<void>;
  status(): Promise<ServiceStatus[]>;
  /** Pid of a running node this stack started, else null. */
  pidOf(id: number): number | null;
}

function writeIfChanged(file: string, content: string): boolean {
  if (readTextOrNull(file) === content) return false;
  writeFileSync(file, content);
  return true;
}

export function createKafkaCluster(deps: ServerDeps, size: number): KafkaCluster {
  const { layout, say, rel } = deps;
  const cluster = clusterLayout(layout, size);
  const label = `Kafka ${layout.kafka.version}`;

  function specOf(node: ClusterNode): JvmServerSpec {
    const address = formatHostPort(node.listen);
    return {
      name: node.name,
      label: `${label} node ${node.id}/${size}`,
      address,
      pidFile: node.pidFile,
      mark: KAFKA_CMD_MARK,
      logFile: node.serverLog,
      probe: () => probeKafka(node.listen),
      foreignPort: () =>
        new BitPredictError(
          'ERR_STACK',
          `${address} (broker ${node.id} of ${size}) is taken by a process that does not answer like Kafka; stop it or use other ports (BITPREDICT_KAFKA_BROKERS)`,
        ),
    };
  }

  function nodeOf(id: number): ClusterNode {
    const node = cluster.nodes[id - 1];
    if (node === undefined) throw new BitPredictError('ERR_STACK', `no broker ${id} in a cluster of ${size}`);
    return node;
  }

  /** What to do with one node: reuse it, wait for it, or launch it (throws when its ports are someone else's). */
  async function plan(node: ClusterNode): Promise<'running' | 'starting' | 'launch'> {
    const spec = specOf(node);
    const pidState = checkPidFile(node.pidFile, KAFKA_CMD_MARK);
    const found = await spec.probe();
    if (found === 'answers') {
      if (pidState.alive) return 'running';
      throw new BitPredictError(
        'ERR_STACK',
        `a Kafka this cluster did not start answers on ${spec.address} (broker ${node.id}'s port; the single-broker stack?); stop it ("npm run stack:down") or use other ports`,
      );
    }
    if (pidState.alive) return 'starting';
    if (found === 'foreign') throw spec.foreignPort();
    if (await isPortOpen(node.controller)) {
      throw new BitPredictError(
        'ERR_STACK',
        `broker ${node.id}'s controller port ${formatHostPort(node.controller)} is taken; free it or set BITPREDICT_STACK_KAFKA_CONTROLLER_PORT`,
      );
    }
    return 'launch';
  }

  async function format(node: ClusterNode, clusterId: string): Promise<void> {
    if (existsSync(join(node.dataDir, 'meta.properties'))) return;
    const jvm = deps.java.kafka();
    // A static quorum (controller.quorum.voters): no --standalone, every node formatted alike.
    const r = await runAsync(
      jvm.path,
      storageFormatArgs(layout, { libsDir: cluster.libsDir, logsDir: node.logsDir, propertiesFile: node.propertiesFile }, clusterId, []),
    );
    if (r.status !== 0) {
      throw new BitPredictError(
        'ERR_STACK',
        `formatting broker ${node.id}'s storage failed (exit ${r.status}): ${lastLine(r.output)}; run "npm run stack:down -- --purge" and retry`,
        {
          details: { output: r.output.slice(-4000) },
        },
      );
    }
  }

  /** Spawns one node (configured and formatted) and returns what to wait for. */
  async function launch(node: ClusterNode): Promise<{ pid: number; since: number; outSince: number }> {
    const jvm = deps.java.kafka();
    const since = fileSize(node.serverLog);
    const outSince = fileSize(node.outFile);
    const child = await spawnDetached(
      jvm.path,
      kafkaJvmArgs(layout, { heap: cluster.heap, libsDir: cluster.libsDir, logsDir: node.logsDir, propertiesFile: node.propertiesFile }),
      {
        cwd: layout.dir,
        outFile: node.outFile,
      },
    );
    writePidFile(node.pidFile, child.pid);
    say(`kafka-${node.id}: started pid ${child.pid} on Java ${jvm.major} (${formatHostPort(node.listen)}, log ${rel(node.serverLog)})`);
    return { pid: child.pid, since, outSince };
  }

  async function awaitNode(node: ClusterNode, pid: number, since: number, outSince: number, startedNow: boolean): Promise<void> {
    const spec = specOf(node);
    await waitUntilReady(layout.startTimeoutMs, {
      name: `Kafka broker ${node.id}`,
      pid,
      address: spec.address,
      // A reused (starting) node may have logged its start line before `since`: then the probe decides.
      ready: async () => (!startedNow || fileContainsSince(node.serverLog, KAFKA_READY_LINE, since)) && (await spec.probe()) === 'answers',
      logs: [
        { file: node.outFile, since: outSince },
        { file: node.serverLog, since },
      ],
      startedNow,
    }).catch((err: unknown) => {
      if (!isProcessAlive(pid)) removePidFile(node.pidFile);
      throw err;
    });
  }

  function prepare(): string {
    mkdirSync(layout.kafka.configDir, { recursive: true });
    const clusterId = ensureClusterId(layout.kafka.clusterIdFile);
    for (const node of cluster.nodes) {
      mkdirSync(node.dataDir, { recursive: true });
      mkdirSync(node.logsDir, { recursive: true });
      if (writeIfChanged(node.propertiesFile, renderClusterNodeProperties(cluster, node))) say(`kafka-${node.id}: wrote ${rel(node.propertiesFile)}`);
    }
    writeIfChanged(cluster.clientEnv, renderClusterClientEnv(cluster));
    return clusterId;
  }

  async function startNodes(nodes: readonly ClusterNode[]): Promise<ServiceStatus[]> {
    const plans = await Promise.all(nodes.map(plan));
    const clusterId = prepare();
    const toLaunch = nodes.filter((_, i) => plans[i] === 'launch');
    if (toLaunch.length > 0) say(`kafka: formatting ${toLaunch.map((n) => `broker ${n.id}`).join(', ')} (cluster id ${clusterId}) if new...`);
    await Promise.all(toLaunch.map((n) => format(n, clusterId)));
    return Promise.all(
      nodes.map(async (node, i): Promise<ServiceStatus> => {
        const spec = specOf(node);
        const base = { name: node.name, label: spec.label, address: spec.address, logFile: node.serverLog, owned: true, state: 'running' as const };
        if (plans[i] === 'launch') {
          const l = await launch(node);
          await awaitNode(node, l.pid, l.since, l.outSince, true);
          return { ...base, pid: l.pid, action: 'started' };
        }
        const pid = checkPidFile(node.pidFile, KAFKA_CMD_MARK).pid ?? 0;
        if (plans[i] === 'starting') await awaitNode(node, pid, 0, 0, false);
        return { ...base, pid, action: 'reused' };
      }),
    );
  }

  async function start(): Promise<ServiceStatus[]> {
    const statuses = await startNodes(cluster.nodes);
    say(`kafka: cluster of ${size} ready, bootstrap ${cluster.bootstrap} (client settings: ${rel(cluster.clientEnv)})`);
    return statuses;
  }

  return {
    cluster,
    async needsStart() {
      const plans = await Promise.all(cluster.nodes.map(plan));
      return plans.includes('launch');
    },
    start,
    async startNode(id) {
      const [status] = await startNodes([nodeOf(id)]);
      if (status === undefined) throw new BitPredictError('ERR_STACK', `broker ${id} did not start`);
      return status;
    },
    async stop() {
      await Promise.all(cluster.nodes.map((n) => stopOwned(deps, n.name, `${label} node ${n.id}`, n.pidFile, KAFKA_CMD_MARK)));
    },
    status: () => Promise.all(cluster.nodes.map((n) => jvmStatus(specOf(n)))),
    pidOf(id) {
      const state = checkPidFile(nodeOf(id).pidFile, KAFKA_CMD_MARK, undefined, { removeStale: false });
      return state.alive ? state.pid : null;
    },
  };
}

/** `down --purge`: the data of every node, the client settings and the mode file go. */
export function purgeCluster(layout: Pick<StackLayout, 'kafka'>): void {
  const dir = layout.kafka.configDir;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (/^node-\d+$/.test(name)) rmSync(join(dir, name), { recursive: true, force: true });
  rmSync(join(dir, 'cluster.env'), { force: true });
  rmSync(clusterModeFile(layout), { force: true });
}

/** Asks the nodes in turn (a dead one is skipped) which node is the active controller (DescribeQuorum). */
export async function activeController(cluster: Pick<ClusterLayout, 'nodes'>, timeoutMs = 5000): Promise<QuorumLeader> {
  for (const node of cluster.nodes) {
    const leader = await describeQuorumLeader(node.listen, timeoutMs);
    if (leader !== null) return leader;
  }
  throw new BitPredictError('ERR_STACK', `no broker of ${cluster.nodes.map((n) => formatHostPort(n.listen)).join(', ')} could name the active controller`);
}
