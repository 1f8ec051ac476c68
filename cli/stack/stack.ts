// The local stack: Apache Kafka (KRaft, single node) and Apicurio Registry from Maven Central
// jars, plus Redis, all on loopback and without Docker. `up` is idempotent: a server that already
// answers on its port is reused (and reported as owned only when our pid file points at it), so a
// second `up` changes nothing. Servers run detached and outlive the CLI; pid files under
// <stack dir>/pids are the record of what `down` may stop.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StackConfig } from './config.js';
import { BitPredictError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { fetchApicurio, fetchKafka } from './fetch.js';
import { formatHostPort, renderServerProperties, resolveLayout, type HostPort, type StackLayout } from './layout.js';
import { checkPidFile, isProcessAlive, removePidFile, writePidFile } from './pidfile.js';
import { isPortOpen, pingRedis, probeHttp, probeKafka, type ProbeResult } from './probe.js';
import { createJavaFinder, defaultJavaDirs, requiredJavaOfApicurio, type JavaRuntime } from './java.js';
import { defaultTools, fileContainsSince, fileSize, lastLine, readTextOrNull, runSync, spawnDetached, stopProcess, tailFile, type Tools } from './proc.js';

export const SERVICES = ['kafka', 'registry', 'redis'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const SERVICE_STATES = ['running', 'starting', 'stopped', 'foreign'] as const;
/**
 * running: answers its protocol; starting: our process lives but does not answer yet;
 * stopped: nothing on the port; foreign: something else holds the port.
 */
export type ServiceState = (typeof SERVICE_STATES)[number];

export interface ServiceStatus {
  readonly name: ServiceName;
  readonly label: string;
  readonly state: ServiceState;
  readonly pid: number | null;
  readonly address: string;
  /** True when this stack started the process (our pid file points at it); false for a server we only reuse. */
  readonly owned: boolean;
  readonly logFile: string | null;
  /** What `up` did: started it now, or found it already answering. */
  readonly action?: 'started' | 'reused';
}

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
  up(): Promise<StackStatus>;
  down(opts?: { purge?: boolean }): Promise<void>;
  status(): Promise<StackStatus>;
  close(): Promise<void>;
}

const STOP_GRACE_MS = 30_000;
const POLL_MS = 300;
const KAFKA_READY_LINE = 'Kafka Server started';
const KAFKA_CMD_MARK = 'kafka.Kafka';
const REGISTRY_CMD_MARK = 'quarkus-run.jar';
const REDIS_CMD_MARK = 'redis-server';

/** Kafka-style cluster id: 16 random bytes, base64url without padding, never starting with "-". */
export function newClusterId(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export function redisNotInstalledMessage(hp: HostPort): string {
  return `Redis is not answering on ${formatHostPort(hp)} and redis-server is not installed (apt-get install redis-server)`;
}

function timeoutText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

export interface EnsureRedisDeps {
  readonly layout: StackLayout;
  readonly redisServer: string;
  readonly say: (line: string) => void;
}

/**
 * Reuses a Redis that answers PING, else starts one (daemonized, no persistence) and owns it.
 * Exported on its own so the error paths can be tested without Kafka or Java.
 */
export async function ensureRedis(deps: EnsureRedisDeps): Promise<ServiceStatus> {
  const r = deps.layout.redis;
  const address = formatHostPort(r.listen);
  const base = { name: 'redis' as const, label: 'Redis', address, logFile: r.logFile };
  const pidState = checkPidFile(r.pidFile, REDIS_CMD_MARK);
  const ping = await pingRedis(r.listen, r.password);
  if (ping === 'pong') {
    deps.say(pidState.alive ? `redis: already running on ${address} (pid ${pidState.pid}, owned)` : `redis: reusing the Redis already answering on ${address} (not owned; down leaves it alone)`);
    return { ...base, state: 'running', pid: pidState.alive ? pidState.pid : null, owned: pidState.alive, logFile: pidState.alive ? r.logFile : null, action: 'reused' };
  }
  if (ping === 'auth-required') {
    throw new BitPredictError('ERR_STACK', `Redis on ${address} wants a password: put it in BITPREDICT_REDIS_URL (redis://:password@${address}) or use another port`);
  }
  if (!pidState.alive && (await isPortOpen(r.listen))) {
    throw new BitPredictError('ERR_STACK', `${address} is taken by a process that does not answer like Redis; stop it or point BITPREDICT_REDIS_URL at another port`);
  }
  const started = Date.now();
  if (!pidState.alive) {
    mkdirSync(r.dataDir, { recursive: true });
    mkdirSync(deps.layout.logsDir, { recursive: true });
    mkdirSync(deps.layout.pidsDir, { recursive: true });
    deps.say(`redis: starting redis-server on ${address}...`);
    const args = [
      '--port', String(r.listen.port), '--bind', r.listen.host,
      '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
      '--dir', r.dataDir, '--logfile', r.logFile, '--pidfile', r.pidFile,
      ...(r.password === null ? [] : ['--requirepass', r.password]),
    ];
    const res = runSync(deps.redisServer, args, { timeoutMs: 30_000 });
    if (res.missing) throw new BitPredictError('ERR_STACK', redisNotInstalledMessage(r.listen));
    if (res.status !== 0) throw new BitPredictError('ERR_STACK', `redis-server failed to start (exit ${res.status}): ${lastLine(res.output)}; see ${r.logFile}`);
  }
  const deadline = started + deps.layout.startTimeoutMs;
  for (;;) {
    if ((await pingRedis(r.listen, r.password)) === 'pong') break;
    if (Date.now() > deadline) {
      throw new BitPredictError('ERR_STACK', `Redis did not answer PING on ${address} within ${timeoutText(deps.layout.startTimeoutMs)}. Last 20 lines of ${r.logFile}:\n${tailFile(r.logFile, 20)}`);
    }
    await sleep(POLL_MS);
  }
  const pid = checkPidFile(r.pidFile, REDIS_CMD_MARK);
  deps.say(`redis: ready on ${address}${pid.pid === null ? '' : ` (pid ${pid.pid})`}`);
  return { ...base, state: 'running', pid: pid.alive ? pid.pid : null, owned: true, action: 'started' };
}

export function createStack(deps: StackDeps): Stack {
  const layout = resolveLayout(deps.config, deps.rootDir);
  const tools: Tools = { ...defaultTools, ...deps.tools };
  const logger = deps.logger.child({ component: 'stack' });
  const say = (line: string): void => {
    logger.debug({ event: line }, 'stack progress');
    deps.progress?.(line);
  };
  const rel = (p: string): string => {
    const r = relative(process.cwd(), p);
    return r.startsWith('..') ? p : r;
  };

  const javaFinder = createJavaFinder({ pathJava: tools.java, javaHome: deps.javaHome, jdkDirs: deps.jdkDirs ?? defaultJavaDirs(homedir()) });
  const java = {
    // Kafka 4 brokers need Java 17; Apicurio states its need in its class files.
    kafka: (): JavaRuntime => javaFinder.find(17, `Kafka ${layout.kafka.version}`),
    registry: (): JavaRuntime => javaFinder.find(requiredJavaOfApicurio(layout.registry.homeDir), `Apicurio Registry ${layout.registry.version}`),
  };

  const kafkaAddr = formatHostPort(layout.kafka.listen);
  const registryAddr = formatHostPort(layout.registry.listen);
  const subjectsUrl = `${layout.registry.url}/subjects`;

  const probe = {
    kafka: (): Promise<ProbeResult> => probeKafka(layout.kafka.listen),
    registry: (): Promise<ProbeResult> => probeHttp(subjectsUrl, layout.registry.listen),
  };

  function foreignPort(name: 'kafka' | 'registry'): BitPredictError {
    return name === 'kafka'
      ? new BitPredictError('ERR_STACK', `${kafkaAddr} is taken by a process that does not answer like Kafka; stop it (ss -ltnp 'sport = :${layout.kafka.listen.port}' shows which) or point BITPREDICT_KAFKA_BROKERS at another port`)
      : new BitPredictError('ERR_STACK', `${registryAddr} is taken by a process that does not answer GET ${subjectsUrl} with 200; stop it (ss -ltnp 'sport = :${layout.registry.listen.port}' shows which) or point BITPREDICT_REGISTRY_URL at another port`);
  }

  async function waitUntil(opts: {
    name: string;
    pid: number;
    address: string;
    ready: () => Promise<boolean>;
    logs: readonly { file: string; since: number }[];
    startedNow: boolean;
  }): Promise<void> {
    const deadline = Date.now() + layout.startTimeoutMs;
    for (;;) {
      if (await opts.ready()) return;
      const exited = !isProcessAlive(opts.pid);
      if (exited || Date.now() > deadline) {
        // The log that grew since the start tells what went wrong; fall back to the last one.
        const log = opts.logs.find((l) => fileSize(l.file) > l.since) ?? opts.logs[opts.logs.length - 1];
        const tail = log ? tailFile(log.file, 20) : '';
        const why = exited
          ? `${opts.name} (pid ${opts.pid}) exited before it was ready on ${opts.address}`
          : `${opts.name} did not become ready on ${opts.address} within ${timeoutText(layout.startTimeoutMs)}`;
        if (!exited && opts.startedNow) await stopProcess(opts.pid, 10_000);
        throw new BitPredictError('ERR_STACK', `${why}. Last 20 lines of ${log?.file ?? '(no log)'}:\n${tail || '(empty)'}`, {
          details: { logFiles: opts.logs.map((l) => l.file) },
        });
      }
      await sleep(POLL_MS);
    }
  }

  function writeIfChanged(file: string, content: string): boolean {
    if (readTextOrNull(file) === content) return false;
    writeFileSync(file, content);
    return true;
  }

  function formatKafkaStorage(jvm: JavaRuntime): void {
    const k = layout.kafka;
    if (existsSync(join(k.dataDir, 'meta.properties'))) return;
    let clusterId = readTextOrNull(k.clusterIdFile)?.trim() ?? '';
    if (!/^[A-Za-z0-9_-]{22}$/.test(clusterId)) {
      clusterId = newClusterId();
      writeFileSync(k.clusterIdFile, `${clusterId}\n`);
    }
    say(`kafka: formatting ${rel(k.dataDir)} (cluster id ${clusterId})...`);
    const r = runSync(jvm.path, [
      '-Xmx256m',
      `-Dlog4j2.configurationFile=${layout.log4jFile}`, `-Dkafka.logs.dir=${layout.logsDir}`,
      '-cp', `${k.libsDir}/*`, 'kafka.tools.StorageTool',
      'format', '--standalone', '--ignore-formatted', '-t', clusterId, '-c', k.propertiesFile,
    ], { timeoutMs: 120_000 });
    if (r.status !== 0) {
      throw new BitPredictError('ERR_STACK', `formatting Kafka storage failed (exit ${r.status}): ${lastLine(r.output)}; run "npm run stack:down -- --purge" and retry`, { details: { output: r.output.slice(-4000) } });
    }
  }

  async function startKafka(): Promise<ServiceStatus> {
    const k = layout.kafka;
    const base = { name: 'kafka' as const, label: `Kafka ${k.version}`, address: kafkaAddr, logFile: k.serverLog };
    const pidState = checkPidFile(k.pidFile, KAFKA_CMD_MARK);
    if (pidState.staleRemoved) say(`kafka: removed stale pid file ${rel(k.pidFile)} (pid ${pidState.pid} is gone)`);
    const found = await probe.kafka();
    if (found === 'answers') {
      say(pidState.alive ? `kafka: already running on ${kafkaAddr} (pid ${pidState.pid}, owned)` : `kafka: reusing the Kafka already answering on ${kafkaAddr} (not owned; down leaves it alone)`);
      return { ...base, state: 'running', pid: pidState.alive ? pidState.pid : null, owned: pidState.alive, logFile: pidState.alive ? k.serverLog : null, action: 'reused' };
    }
    if (pidState.alive && pidState.pid !== null) {
      // Started by an earlier `up` that did not wait for it (or is still starting): wait, don't start twice.
      say(`kafka: pid ${pidState.pid} is starting; waiting for ${kafkaAddr}...`);
      await waitUntil({ name: 'Kafka', pid: pidState.pid, address: kafkaAddr, ready: async () => (await probe.kafka()) === 'answers', logs: [{ file: k.serverLog, since: 0 }], startedNow: false });
      return { ...base, state: 'running', pid: pidState.pid, owned: true, action: 'reused' };
    }
    if (found === 'foreign') throw foreignPort('kafka');
    if (await isPortOpen(k.controller)) {
      throw new BitPredictError('ERR_STACK', `the Kafka controller port ${formatHostPort(k.controller)} is taken; free it or set BITPREDICT_STACK_KAFKA_CONTROLLER_PORT`);
    }
    mkdirSync(k.configDir, { recursive: true });
    mkdirSync(k.dataDir, { recursive: true });
    if (writeIfChanged(k.propertiesFile, renderServerProperties(layout))) say(`kafka: wrote ${rel(k.propertiesFile)}`);
    const jvm = java.kafka();
    formatKafkaStorage(jvm);
    const since = fileSize(k.serverLog);
    const outSince = fileSize(k.outFile);
    const args = [
      `-Xms${k.heap}`, `-Xmx${k.heap}`,
      '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${layout.log4jFile}`, `-Dkafka.logs.dir=${layout.logsDir}`,
      '-cp', `${k.libsDir}/*`, 'kafka.Kafka', k.propertiesFile,
    ];
    const child = await spawnDetached(jvm.path, args, { cwd: layout.dir, outFile: k.outFile });
    writePidFile(k.pidFile, child.pid);
    say(`kafka: started pid ${child.pid} on Java ${jvm.major}; waiting for ${kafkaAddr} (log ${rel(k.serverLog)})...`);
    await waitUntil({
      name: 'Kafka',
      pid: child.pid,
      address: kafkaAddr,
      ready: async () => fileContainsSince(k.serverLog, KAFKA_READY_LINE, since) && (await probe.kafka()) === 'answers',
      logs: [{ file: k.outFile, since: outSince }, { file: k.serverLog, since }],
      startedNow: true,
    }).catch((err: unknown) => {
      if (!isProcessAlive(child.pid)) removePidFile(k.pidFile);
      throw err;
    });
    say(`kafka: ready on ${kafkaAddr}`);
    return { ...base, state: 'running', pid: child.pid, owned: true, action: 'started' };
  }

  async function startRegistry(): Promise<ServiceStatus> {
    const a = layout.registry;
    const base = { name: 'registry' as const, label: `Apicurio Registry ${a.version}`, address: registryAddr, logFile: a.outFile };
    const pidState = checkPidFile(a.pidFile, REGISTRY_CMD_MARK);
    if (pidState.staleRemoved) say(`registry: removed stale pid file ${rel(a.pidFile)} (pid ${pidState.pid} is gone)`);
    const found = await probe.registry();
    if (found === 'answers') {
      say(pidState.alive ? `registry: already running on ${registryAddr} (pid ${pidState.pid}, owned)` : `registry: reusing the registry already answering at ${a.url} (not owned; down leaves it alone)`);
      return { ...base, state: 'running', pid: pidState.alive ? pidState.pid : null, owned: pidState.alive, logFile: pidState.alive ? a.outFile : null, action: 'reused' };
    }
    if (pidState.alive && pidState.pid !== null) {
      say(`registry: pid ${pidState.pid} is starting; waiting for ${subjectsUrl}...`);
      await waitUntil({ name: 'Apicurio Registry', pid: pidState.pid, address: registryAddr, ready: async () => (await probe.registry()) === 'answers', logs: [{ file: a.outFile, since: 0 }], startedNow: false });
      return { ...base, state: 'running', pid: pidState.pid, owned: true, action: 'reused' };
    }
    if (found === 'foreign') throw foreignPort('registry');
    if (await isPortOpen({ host: '127.0.0.1', port: a.managementPort })) {
      throw new BitPredictError('ERR_STACK', `the registry management port 127.0.0.1:${a.managementPort} is taken; free it or set BITPREDICT_STACK_REGISTRY_MANAGEMENT_PORT`);
    }
    const jvm = java.registry();
    mkdirSync(a.dataDir, { recursive: true });
    const outSince = fileSize(a.outFile);
    const args = [
      `-Xmx${a.heap}`,
      `-Dquarkus.http.host=${a.listen.host}`, `-Dquarkus.http.port=${a.listen.port}`,
      '-Dquarkus.management.host=127.0.0.1', `-Dquarkus.management.port=${a.managementPort}`,
      // Every new subject gets BACKWARD: without a rule, @kafkajs/confluent-schema-registry throws
      // "Compatibility does not match the configuration" on a subject registered elsewhere.
      '-Dapicurio.rules.global.compatibility=BACKWARD',
      // Kafka keeps its records across down/up, and every record carries a schema id; an in-memory
      // registry would hand the same ids to different schemas after a restart. So the registry's
      // H2 database lives on disk beside the Kafka data, and `down --purge` deletes both.
      `-Dapicurio.datasource.url=jdbc:h2:file:${join(a.dataDir, 'registry')}`,
      // Per-request access and audit lines would bury start-up problems in the log; tests make thousands.
      '-Dquarkus.http.access-log.enabled=false',
      '-Dquarkus.log.category."io.apicurio.registry.logging.audit".level=WARN',
      '-Dquarkus.log.category."io.apicurio.registry.storage.metrics".level=WARN',
      '-jar', 'quarkus-run.jar',
    ];
    const child = await spawnDetached(jvm.path, args, { cwd: a.homeDir, outFile: a.outFile });
    writePidFile(a.pidFile, child.pid);
    say(`registry: started pid ${child.pid} on Java ${jvm.major} (${jvm.path}); waiting for ${subjectsUrl} (log ${rel(a.outFile)})...`);
    await waitUntil({
      name: 'Apicurio Registry',
      pid: child.pid,
      address: registryAddr,
      ready: async () => (await probe.registry()) === 'answers',
      logs: [{ file: a.outFile, since: outSince }],
      startedNow: true,
    }).catch((err: unknown) => {
      if (!isProcessAlive(child.pid)) removePidFile(a.pidFile);
      throw err;
    });
    say(`registry: ready at ${a.url}`);
    return { ...base, state: 'running', pid: child.pid, owned: true, action: 'started' };
  }

  /** True when `up` will have to start this server; throws early (before any download) on a foreign port. */
  async function needsStart(name: 'kafka' | 'registry'): Promise<boolean> {
    const found = await probe[name]();
    if (found === 'answers') return false;
    const file = name === 'kafka' ? layout.kafka.pidFile : layout.registry.pidFile;
    const mark = name === 'kafka' ? KAFKA_CMD_MARK : REGISTRY_CMD_MARK;
    if (checkPidFile(file, mark, undefined, { removeStale: false }).alive) return false;
    if (found === 'foreign') throw foreignPort(name);
    return true;
  }

  async function up(): Promise<StackStatus> {
    mkdirSync(layout.logsDir, { recursive: true });
    mkdirSync(layout.pidsDir, { recursive: true });
    const redis = await ensureRedis({ layout, redisServer: tools.redisServer, say });
    const [kafkaNeeded, registryNeeded] = await Promise.all([needsStart('kafka'), needsStart('registry')]);
    if (kafkaNeeded || registryNeeded) {
      // Fail before a 200 MB download when there is no JVM at all.
      java.kafka();
      const fetchDeps = { layout, tools, progress: say };
      // Sequential: two Maven processes on one ~/.m2 can corrupt half-written downloads.
      if (kafkaNeeded) await fetchKafka(fetchDeps);
      if (registryNeeded) {
        await fetchApicurio(fetchDeps);
        java.registry();
      }
    }
    // The JVMs start in parallel: Apicurio's start-up dominates and does not depend on Kafka.
    const [kafka, registry] = await Promise.all([startKafka(), startRegistry()]);
    const services = [kafka, registry, redis];
    logger.debug({ services: services.map((s) => ({ name: s.name, pid: s.pid, owned: s.owned, action: s.action })) }, 'local stack is up');
    return { dir: layout.dir, services, allUp: services.every((s) => s.state === 'running') };
  }

  async function stopOwned(name: ServiceName, label: string, file: string, mark: string): Promise<void> {
    const state = checkPidFile(file, mark);
    if (state.staleRemoved) say(`${name}: removed stale pid file (pid ${state.pid} is gone)`);
    if (!state.alive || state.pid === null) return;
    say(`${name}: stopping ${label} (pid ${state.pid})...`);
    const how = await stopProcess(state.pid, STOP_GRACE_MS);
    removePidFile(file);
    if (how === 'killed') {
      logger.warn({ pid: state.pid, service: name }, 'did not stop within the grace period; killed');
      say(`${name}: did not stop within ${STOP_GRACE_MS / 1000} s; sent SIGKILL`);
    } else {
      say(`${name}: stopped`);
    }
  }

  async function down(opts: { purge?: boolean } = {}): Promise<void> {
    await Promise.all([
      stopOwned('kafka', `Kafka ${layout.kafka.version}`, layout.kafka.pidFile, KAFKA_CMD_MARK),
      stopOwned('registry', `Apicurio Registry ${layout.registry.version}`, layout.registry.pidFile, REGISTRY_CMD_MARK),
      stopOwned('redis', 'redis-server', layout.redis.pidFile, REDIS_CMD_MARK),
    ]);
    if ((await pingRedis(layout.redis.listen, layout.redis.password)) === 'pong') {
      say(`redis: leaving the Redis on ${formatHostPort(layout.redis.listen)} alone (not started by the stack)`);
    }
    if (opts.purge === true) {
      if ((await probeKafka(layout.kafka.listen)) === 'answers') {
        say(`kafka: a Kafka not started by the stack still answers on ${kafkaAddr}; purging ${rel(layout.kafka.dataDir)} anyway`);
      }
      rmSync(layout.kafka.dataDir, { recursive: true, force: true });
      rmSync(layout.kafka.clusterIdFile, { force: true });
      rmSync(layout.registry.dataDir, { recursive: true, force: true });
      rmSync(layout.redis.dataDir, { recursive: true, force: true });
      say(`purged ${rel(layout.kafka.dataDir)} and ${rel(layout.registry.dataDir)} (topics, offsets, cluster id and schemas are gone)`);
    }
    logger.debug({ purge: opts.purge === true }, 'local stack is down');
  }

  async function serviceStatus(name: 'kafka' | 'registry'): Promise<ServiceStatus> {
    const isKafka = name === 'kafka';
    const file = isKafka ? layout.kafka.pidFile : layout.registry.pidFile;
    const pidState = checkPidFile(file, isKafka ? KAFKA_CMD_MARK : REGISTRY_CMD_MARK, undefined, { removeStale: false });
    const found = await probe[name]();
    const state: ServiceState = found === 'answers' ? 'running' : pidState.alive ? 'starting' : found === 'foreign' ? 'foreign' : 'stopped';
    return {
      name,
      label: isKafka ? `Kafka ${layout.kafka.version}` : `Apicurio Registry ${layout.registry.version}`,
      state,
      pid: pidState.alive ? pidState.pid : null,
      address: isKafka ? kafkaAddr : registryAddr,
      owned: pidState.alive,
      logFile: isKafka ? layout.kafka.serverLog : layout.registry.outFile,
    };
  }

  async function redisStatus(): Promise<ServiceStatus> {
    const r = layout.redis;
    const pidState = checkPidFile(r.pidFile, REDIS_CMD_MARK, undefined, { removeStale: false });
    const ping = await pingRedis(r.listen, r.password);
    const state: ServiceState = ping === 'pong' ? 'running' : pidState.alive ? 'starting' : (await isPortOpen(r.listen)) ? 'foreign' : 'stopped';
    return { name: 'redis', label: 'Redis', state, pid: pidState.alive ? pidState.pid : null, address: formatHostPort(r.listen), owned: pidState.alive, logFile: pidState.alive ? r.logFile : null };
  }

  async function status(): Promise<StackStatus> {
    const services = await Promise.all([serviceStatus('kafka'), serviceStatus('registry'), redisStatus()]);
    return { dir: layout.dir, services, allUp: services.every((s) => s.state === 'running') };
  }

  return {
    layout,
    up,
    down,
    status,
    close: () => Promise.resolve(),
  };
}
