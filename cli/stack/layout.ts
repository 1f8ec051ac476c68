// Pure description of the local stack: where every file lives and which address every server
// listens on, derived from the stack's configuration alone. Nothing here touches the disk or the network, so the
// rendering of server.properties and the addresses can be unit-tested.
import { isAbsolute, join, resolve } from 'node:path';
import type { StackConfig } from './config.js';
import { BitPredictError } from '../../core/errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface StackLayout {
  readonly rootDir: string;
  readonly dir: string;
  readonly pomFile: string;
  readonly log4jFile: string;
  readonly logsDir: string;
  readonly pidsDir: string;
  readonly kafka: {
    readonly version: string;
    readonly homeDir: string;
    readonly libsDir: string;
    readonly marker: string;
    readonly configDir: string;
    readonly propertiesFile: string;
    readonly dataDir: string;
    readonly clusterIdFile: string;
    readonly listen: HostPort;
    readonly controller: HostPort;
    readonly heap: string;
    readonly outFile: string;
    readonly serverLog: string;
    readonly pidFile: string;
  };
  readonly registry: {
    readonly version: string;
    readonly homeDir: string;
    readonly marker: string;
    readonly downloadDir: string;
    /** H2 database of the registry; kept with the Kafka data so schema ids stay valid across restarts. */
    readonly dataDir: string;
    readonly listen: HostPort;
    readonly managementPort: number;
    readonly heap: string;
    /** Confluent-compatible base URL as configured (BITPREDICT_REGISTRY_URL), without trailing slash. */
    readonly url: string;
    readonly outFile: string;
    readonly pidFile: string;
  };
  readonly redis: {
    readonly listen: HostPort;
    readonly password: string | null;
    readonly dataDir: string;
    readonly logFile: string;
    readonly pidFile: string;
  };
  readonly startTimeoutMs: number;
}

/** Parses "host:port" (the form of BITPREDICT_KAFKA_BROKERS entries). */
export function parseHostPort(text: string, key: string): HostPort {
  const m = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BitPredictError('ERR_STACK', `${key}: "${text}" is not host:port with a port in 1..65535`);
  }
  return { host: m[1], port };
}

function urlHostPort(text: string, key: string, defaultPorts: Record<string, number>): { hp: HostPort; url: URL } {
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    throw new BitPredictError('ERR_STACK', `${key}: "${text}" is not a URL`, { cause: err });
  }
  const port = url.port === '' ? defaultPorts[url.protocol] : Number(url.port);
  if (port === undefined) throw new BitPredictError('ERR_STACK', `${key}: unsupported scheme "${url.protocol}" in "${text}"`);
  // URL keeps IPv6 literals in brackets; listeners and sockets want the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new BitPredictError('ERR_STACK', `${key}: "${text}" has no host`);
  return { hp: { host, port }, url };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

export function resolveLayout(config: StackConfig, rootDir: string): StackLayout {
  const s = config.stack;
  const dir = isAbsolute(s.dir) ? s.dir : resolve(rootDir, s.dir);
  const logsDir = join(dir, 'logs');
  const pidsDir = join(dir, 'pids');
  const firstBroker = config.kafka.brokers[0];
  if (firstBroker === undefined) throw new BitPredictError('ERR_STACK', 'BITPREDICT_KAFKA_BROKERS is empty');
  const kafkaListen = parseHostPort(firstBroker, 'BITPREDICT_KAFKA_BROKERS');
  const registry = urlHostPort(config.registry.url, 'BITPREDICT_REGISTRY_URL', { 'http:': 80 });
  const redis = urlHostPort(config.redis.url, 'BITPREDICT_REDIS_URL', { 'redis:': 6379 });
  const kafkaHome = join(dir, `kafka-${s.kafkaVersion}`);
  const registryHome = join(dir, `apicurio-${s.apicurioVersion}`);
  const kafkaConfigDir = join(dir, 'kafka');
  return {
    rootDir,
    dir,
    pomFile: join(rootDir, 'deployment', 'local', 'pom.xml'),
    log4jFile: join(rootDir, 'deployment', 'local', 'log4j2.properties'),
    logsDir,
    pidsDir,
    kafka: {
      version: s.kafkaVersion,
      homeDir: kafkaHome,
      libsDir: join(kafkaHome, 'libs'),
      marker: join(kafkaHome, '.complete'),
      configDir: kafkaConfigDir,
      propertiesFile: join(kafkaConfigDir, 'server.properties'),
      dataDir: join(kafkaConfigDir, 'data'),
      clusterIdFile: join(kafkaConfigDir, 'cluster.id'),
      listen: kafkaListen,
      // The controller listens beside the broker, on the same interface.
      controller: { host: kafkaListen.host, port: s.kafkaControllerPort },
      heap: s.kafkaHeap,
      outFile: join(logsDir, 'kafka.out'),
      serverLog: join(logsDir, 'kafka-server.log'),
      pidFile: join(pidsDir, 'kafka.pid'),
    },
    registry: {
      version: s.apicurioVersion,
      homeDir: registryHome,
      marker: join(registryHome, '.complete'),
      downloadDir: join(dir, 'downloads'),
      dataDir: join(dir, 'registry', 'data'),
      listen: registry.hp,
      managementPort: s.registryManagementPort,
      heap: s.registryHeap,
      url: config.registry.url.replace(/\/+$/, ''),
      outFile: join(logsDir, 'apicurio.out'),
      pidFile: join(pidsDir, 'apicurio.pid'),
    },
    redis: {
      listen: redis.hp,
      password: redis.url.password === '' ? null : decodeURIComponent(redis.url.password),
      dataDir: join(dir, 'redis'),
      logFile: join(logsDir, 'redis.log'),
      pidFile: join(pidsDir, 'redis.pid'),
    },
    startTimeoutMs: s.startTimeoutMs,
  };
}

/** Java .properties value escaping: backslashes, and line breaks that would end the entry. */
function propValue(v: string | number): string {
  const text = String(v);
  if (/[\r\n]/.test(text)) throw new BitPredictError('ERR_STACK', `server.properties value contains a line break: ${JSON.stringify(text)}`);
  return text.replace(/\\/g, '\\\\');
}

/**
 * server.properties of a single-node KRaft Kafka (combined broker + controller). Every internal
 * topic gets replication factor 1 and min ISR 1: with the defaults (3) on one node the offsets
 * and transaction topics are never created and clients loop on "coordinator not available".
 */
export function renderServerProperties(layout: Pick<StackLayout, 'kafka'>): string {
  const k = layout.kafka;
  const broker = formatHostPort(k.listen);
  const controller = formatHostPort(k.controller);
  const entries: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', 1],
    // Dynamic quorum (KIP-853): formatted with --standalone, so no controller.quorum.voters.
    ['controller.quorum.bootstrap.servers', controller],
    ['listeners', `PLAINTEXT://${broker},CONTROLLER://${controller}`],
    ['advertised.listeners', `PLAINTEXT://${broker}`],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'PLAINTEXT'],
    ['listener.security.protocol.map', 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT'],
    ['log.dirs', k.dataDir],
    ['num.partitions', 3],
    ['default.replication.factor', 1],
    ['min.insync.replicas', 1],
    // Topics are created explicitly (with their partition count); a typo must fail, not create a topic.
    ['auto.create.topics.enable', 'false'],
    ['offsets.topic.replication.factor', 1],
    ['transaction.state.log.replication.factor', 1],
    ['transaction.state.log.min.isr', 1],
    ['share.coordinator.state.topic.replication.factor', 1],
    ['share.coordinator.state.topic.min.isr', 1],
    // Tests create fresh groups all the time; the default 3 s delay would slow every one of them.
    ['group.initial.rebalance.delay.ms', 0],
    ['num.recovery.threads.per.data.dir', 1],
  ];
  const lines = ['# Generated by `bitpredict stack up` from BITPREDICT_* config; edits are overwritten.'];
  for (const [key, value] of entries) lines.push(`${key}=${propValue(value)}`);
  return `${lines.join('\n')}\n`;
}
