// Kafka in the local stack (KRaft, one node that is broker and controller): reuse a Kafka that
// answers, else write server.properties, format the storage once, start the broker detached and
// wait until it answers; stop it only when our pid file points at it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BitPredictError } from '../../core/errors.js';
import type { JavaRuntime } from './java.js';
import { formatHostPort, renderServerProperties, type BrokerSecrets, type StackLayout } from './layout.js';
import { checkPidFile, isProcessAlive, removePidFile, writePidFile, type PidFileState } from './pidfile.js';
import { isPortOpen, probeKafka } from './probe.js';
import { aclsCurrent, ensureAcls, ensureScramUsers, ensureSecureMaterial, formatScramArgs, keytoolOf } from './secure.js';
import { fileContainsSince, fileSize, lastLine, readTextOrNull, runSync, spawnDetached } from './proc.js';
import { jvmStatus, needsStart, stopOwned, waitUntilReady, type JvmServer, type JvmServerSpec, type ServerDeps, type ServiceStatus } from './server.js';

export const KAFKA_READY_LINE = 'Kafka Server started';
export const KAFKA_CMD_MARK = 'kafka.Kafka';

/** Kafka-style cluster id: 16 random bytes, base64url without padding, never starting with "-". */
export function newClusterId(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function writeIfChanged(file: string, content: string): boolean {
  if (readTextOrNull(file) === content) return false;
  writeFileSync(file, content);
  return true;
}

/** The cluster id kept in its own file (so a re-format reuses it); made on first use. */
export function ensureClusterId(clusterIdFile: string): string {
  const clusterId = readTextOrNull(clusterIdFile)?.trim() ?? '';
  if (/^[A-Za-z0-9_-]{22}$/.test(clusterId)) return clusterId;
  const id = newClusterId();
  writeFileSync(clusterIdFile, `${id}\n`);
  return id;
}

/** `kafka-storage format` of one node's data folder (idempotent: --ignore-formatted). */
export function storageFormatArgs(
  layout: Pick<StackLayout, 'log4jFile'>,
  node: { libsDir: string; logsDir: string; propertiesFile: string },
  clusterId: string,
  extra: readonly string[],
): string[] {
  return [
    '-Xmx256m',
    `-Dlog4j2.configurationFile=${layout.log4jFile}`,
    `-Dkafka.logs.dir=${node.logsDir}`,
    '-cp',
    `${node.libsDir}/*`,
    'kafka.tools.StorageTool',
    'format',
    ...extra,
    '--ignore-formatted',
    '-t',
    clusterId,
    '-c',
    node.propertiesFile,
  ];
}

/**
 * Formats the data folder once; the cluster id is kept in its own file so a re-format reuses it.
 * The SCRAM user of the secure listener is added here, as KRaft metadata.
 */
function formatKafkaStorage(deps: ServerDeps, jvm: JavaRuntime, secrets: BrokerSecrets): void {
  const { layout, say, rel } = deps;
  const k = layout.kafka;
  if (existsSync(join(k.dataDir, 'meta.properties'))) return;
  const clusterId = ensureClusterId(k.clusterIdFile);
  say(`kafka: formatting ${rel(k.dataDir)} (cluster id ${clusterId})...`);
  const r = runSync(
    jvm.path,
    [
      ...storageFormatArgs(layout, { libsDir: k.libsDir, logsDir: layout.logsDir, propertiesFile: k.propertiesFile }, clusterId, ['--standalone']),
      ...formatScramArgs(k.secure, secrets),
    ],
    { timeoutMs: 120_000 },
  );
  if (r.status !== 0) {
    throw new BitPredictError(
      'ERR_STACK',
      `formatting Kafka storage failed (exit ${r.status}): ${lastLine(r.output).split(secrets.userPassword).join('***')}; run "npm run stack:down -- --purge" and retry`,
      { details: { output: r.output.slice(-4000).split(secrets.userPassword).join('***') } },
    );
  }
  writeFileSync(k.secure.scramMarker, 'SCRAM-SHA-256,SCRAM-SHA-512 added at format time\n');
}

/** The command line of one Kafka JVM (the single broker, or one node of a cluster). */
export function kafkaJvmArgs(
  layout: Pick<StackLayout, 'log4jFile'>,
  node: { heap: string; libsDir: string; logsDir: string; propertiesFile: string },
): string[] {
  return [
    `-Xms${node.heap}`,
    `-Xmx${node.heap}`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${layout.log4jFile}`,
    `-Dkafka.logs.dir=${node.logsDir}`,
    '-cp',
    `${node.libsDir}/*`,
    KAFKA_CMD_MARK,
    node.propertiesFile,
  ];
}

function brokerArgs(layout: StackLayout): string[] {
  const k = layout.kafka;
  return kafkaJvmArgs(layout, { heap: k.heap, libsDir: k.libsDir, logsDir: layout.logsDir, propertiesFile: k.propertiesFile });
}

export function createKafka(deps: ServerDeps): JvmServer {
  const { layout, say, rel } = deps;
  const k = layout.kafka;
  const address = formatHostPort(k.listen);
  const label = `Kafka ${k.version}`;
  const base = { name: 'kafka' as const, label, address, logFile: k.serverLog };
  const spec: JvmServerSpec = {
    name: 'kafka',
    label,
    address,
    pidFile: k.pidFile,
    mark: KAFKA_CMD_MARK,
    logFile: k.serverLog,
    probe: () => probeKafka(k.listen),
    foreignPort: () =>
      new BitPredictError(
        'ERR_STACK',
        `${address} is taken by a process that does not answer like Kafka; stop it (ss -ltnp 'sport = :${k.listen.port}' shows which) or point BITPREDICT_KAFKA_BROKERS at another port`,
      ),
  };

  async function start(): Promise<ServiceStatus> {
    const pidState = checkPidFile(k.pidFile, KAFKA_CMD_MARK);
    if (pidState.staleRemoved) say(`kafka: removed stale pid file ${rel(k.pidFile)} (pid ${pidState.pid} is gone)`);
    const found = await spec.probe();
    if (found === 'answers') return reuse(pidState);
    if (pidState.alive && pidState.pid !== null) return awaitStarting(pidState.pid);
    if (found === 'foreign') throw spec.foreignPort();
    if (await isPortOpen(k.secure.listen)) {
      throw new BitPredictError(
        'ERR_STACK',
        `the Kafka SASL_SSL port ${formatHostPort(k.secure.listen)} is taken; free it or set BITPREDICT_STACK_KAFKA_SECURE_PORT`,
      );
    }
    if (await isPortOpen(k.controller)) {
      throw new BitPredictError(
        'ERR_STACK',
        `the Kafka controller port ${formatHostPort(k.controller)} is taken; free it or set BITPREDICT_STACK_KAFKA_CONTROLLER_PORT`,
      );
    }
    return launch();
  }

  async function reuse(pidState: PidFileState): Promise<ServiceStatus> {
    // A broker started by a stack from before the secure listener: it keeps running (others may
    // be using it), so say how to get the listener rather than restart it behind their backs.
    if (!(await isPortOpen(k.secure.listen))) {
      say(
        `kafka: WARNING: no SASL_SSL listener on ${formatHostPort(k.secure.listen)} (this Kafka was started by an older stack or another tool); ` +
          'restart it to add one: npm run stack:down && npm run stack:up',
      );
    } else if (pidState.alive) {
      ensureSecureUsers();
    }
    say(
      pidState.alive
        ? `kafka: already running on ${address} (pid ${pidState.pid}, owned)`
        : `kafka: reusing the Kafka already answering on ${address} (not owned; down leaves it alone)`,
    );
    return {
      ...base,
      state: 'running',
      pid: pidState.alive ? pidState.pid : null,
      owned: pidState.alive,
      logFile: pidState.alive ? k.serverLog : null,
      action: 'reused',
    };
  }

  /** Started by an earlier `up` that did not wait for it (or is still starting): wait, don't start twice. */
  async function awaitStarting(pid: number): Promise<ServiceStatus> {
    say(`kafka: pid ${pid} is starting; waiting for ${address}...`);
    await waitUntilReady(layout.startTimeoutMs, {
      name: 'Kafka',
      pid,
      address,
      ready: async () => (await spec.probe()) === 'answers',
      logs: [{ file: k.serverLog, since: 0 }],
      startedNow: false,
    });
    return { ...base, state: 'running', pid, owned: true, action: 'reused' };
  }

  async function launch(): Promise<ServiceStatus> {
    mkdirSync(k.configDir, { recursive: true });
    mkdirSync(k.dataDir, { recursive: true });
    const jvm = deps.java.kafka();
    const secrets = ensureSecureMaterial(k.secure, keytoolOf(jvm), say);
    if (writeIfChanged(k.propertiesFile, renderServerProperties(layout, secrets))) say(`kafka: wrote ${rel(k.propertiesFile)}`);
    formatKafkaStorage(deps, jvm, secrets);
    const since = fileSize(k.serverLog);
    const outSince = fileSize(k.outFile);
    const child = await spawnDetached(jvm.path, brokerArgs(layout), { cwd: layout.dir, outFile: k.outFile });
    writePidFile(k.pidFile, child.pid);
    say(`kafka: started pid ${child.pid} on Java ${jvm.major}; waiting for ${address} (log ${rel(k.serverLog)})...`);
    await waitUntilReady(layout.startTimeoutMs, {
      name: 'Kafka',
      pid: child.pid,
      address,
      ready: async () => fileContainsSince(k.serverLog, KAFKA_READY_LINE, since) && (await spec.probe()) === 'answers',
      logs: [
        { file: k.outFile, since: outSince },
        { file: k.serverLog, since },
      ],
      startedNow: true,
    }).catch((err: unknown) => {
      if (!isProcessAlive(child.pid)) removePidFile(k.pidFile);
      throw err;
    });
    ensureScramUsers({
      secure: k.secure,
      secrets,
      jvm,
      libsDir: k.libsDir,
      log4jFile: layout.log4jFile,
      logsDir: layout.logsDir,
      bootstrap: address,
      say,
    });
    ensureAcls({ secure: k.secure, jvm, libsDir: k.libsDir, toolSource: layout.secureMode.toolSource, bootstrap: address, say });
    say(`kafka: ready on ${address}, SASL_SSL on ${formatHostPort(k.secure.listen)} (client settings: ${rel(k.secure.clientEnv)})`);
    return { ...base, state: 'running', pid: child.pid, owned: true, action: 'started' };
  }

  /** An owned broker that runs with the secure listener but whose data folder lacks the SCRAM user. */
  function ensureSecureUsers(): void {
    if (existsSync(k.secure.scramMarker) && aclsCurrent(k.secure)) return;
    const jvm = deps.java.kafka();
    const secrets = ensureSecureMaterial(k.secure, keytoolOf(jvm), say);
    ensureScramUsers({ secure: k.secure, secrets, jvm, libsDir: k.libsDir, log4jFile: layout.log4jFile, logsDir: layout.logsDir, bootstrap: address, say });
    try {
      ensureAcls({ secure: k.secure, jvm, libsDir: k.libsDir, toolSource: layout.secureMode.toolSource, bootstrap: address, say });
    } catch (err) {
      // A broker started before the authorizer was configured refuses ACLs (SecurityDisabledException).
      if (!/SecurityDisabled|No Authorizer/i.test(String((err as { details?: { output?: string } }).details?.output ?? err))) throw err;
      say('kafka: WARNING: this broker runs without the authorizer (started by an older stack); restart it for ACLs: npm run stack:down && npm run stack:up');
    }
  }

  return {
    needsStart: () => needsStart(spec),
    start,
    stop: () => stopOwned(deps, 'kafka', label, k.pidFile, KAFKA_CMD_MARK),
    status: () => jvmStatus(spec),
  };
}
