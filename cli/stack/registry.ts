// Apicurio Registry in the local stack (the Confluent-compatible schema registry): reuse one that
// answers GET /subjects, else start it detached on the JVM its class files ask for and wait until
// it answers; stop it only when our pid file points at it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BitPredictError } from '../../core/errors.js';
import { formatHostPort, type StackLayout } from './layout.js';
import { checkPidFile, isProcessAlive, removePidFile, writePidFile, type PidFileState } from './pidfile.js';
import { isPortOpen, probeHttp } from './probe.js';
import { fileSize, spawnDetached } from './proc.js';
import { jvmStatus, needsStart, stopOwned, waitUntilReady, type JvmServer, type JvmServerSpec, type ServerDeps, type ServiceStatus } from './server.js';

const REGISTRY_CMD_MARK = 'quarkus-run.jar';

function registryArgs(a: StackLayout['registry']): string[] {
  return [
    `-Xmx${a.heap}`,
    `-Dquarkus.http.host=${a.listen.host}`,
    `-Dquarkus.http.port=${a.listen.port}`,
    '-Dquarkus.management.host=127.0.0.1',
    `-Dquarkus.management.port=${a.managementPort}`,
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
    '-jar',
    'quarkus-run.jar',
  ];
}

export function createRegistry(deps: ServerDeps): JvmServer {
  const { layout, say, rel } = deps;
  const a = layout.registry;
  const address = formatHostPort(a.listen);
  const label = `Apicurio Registry ${a.version}`;
  const subjectsUrl = `${a.url}/subjects`;
  const base = { name: 'registry' as const, label, address, logFile: a.outFile };
  const spec: JvmServerSpec = {
    name: 'registry',
    label,
    address,
    pidFile: a.pidFile,
    mark: REGISTRY_CMD_MARK,
    logFile: a.outFile,
    probe: () => probeHttp(subjectsUrl, a.listen),
    foreignPort: () =>
      new BitPredictError(
        'ERR_STACK',
        `${address} is taken by a process that does not answer GET ${subjectsUrl} with 200; stop it (ss -ltnp 'sport = :${a.listen.port}' shows which) or point BITPREDICT_REGISTRY_URL at another port`,
      ),
  };

  async function start(): Promise<ServiceStatus> {
    const pidState = checkPidFile(a.pidFile, REGISTRY_CMD_MARK);
    if (pidState.staleRemoved) say(`registry: removed stale pid file ${rel(a.pidFile)} (pid ${pidState.pid} is gone)`);
    const found = await spec.probe();
    if (found === 'answers') return reuse(pidState);
    if (pidState.alive && pidState.pid !== null) return awaitStarting(pidState.pid);
    if (found === 'foreign') throw spec.foreignPort();
    if (await isPortOpen({ host: '127.0.0.1', port: a.managementPort })) {
      throw new BitPredictError(
        'ERR_STACK',
        `the registry management port 127.0.0.1:${a.managementPort} is taken; free it or set BITPREDICT_STACK_REGISTRY_MANAGEMENT_PORT`,
      );
    }
    return launch();
  }

  function reuse(pidState: PidFileState): ServiceStatus {
    say(
      pidState.alive
        ? `registry: already running on ${address} (pid ${pidState.pid}, owned)`
        : `registry: reusing the registry already answering at ${a.url} (not owned; down leaves it alone)`,
    );
    return {
      ...base,
      state: 'running',
      pid: pidState.alive ? pidState.pid : null,
      owned: pidState.alive,
      logFile: pidState.alive ? a.outFile : null,
      action: 'reused',
    };
  }

  /** Started by an earlier `up` that did not wait for it (or is still starting): wait, don't start twice. */
  async function awaitStarting(pid: number): Promise<ServiceStatus> {
    say(`registry: pid ${pid} is starting; waiting for ${subjectsUrl}...`);
    await waitUntilReady(layout.startTimeoutMs, {
      name: 'Apicurio Registry',
      pid,
      address,
      ready: async () => (await spec.probe()) === 'answers',
      logs: [{ file: a.outFile, since: 0 }],
      startedNow: false,
    });
    return { ...base, state: 'running', pid, owned: true, action: 'reused' };
  }

  async function launch(): Promise<ServiceStatus> {
    const jvm = deps.java.registry();
    mkdirSync(a.dataDir, { recursive: true });
    const outSince = fileSize(a.outFile);
    const child = await spawnDetached(jvm.path, registryArgs(a), { cwd: a.homeDir, outFile: a.outFile });
    writePidFile(a.pidFile, child.pid);
    say(`registry: started pid ${child.pid} on Java ${jvm.major} (${jvm.path}); waiting for ${subjectsUrl} (log ${rel(a.outFile)})...`);
    await waitUntilReady(layout.startTimeoutMs, {
      name: 'Apicurio Registry',
      pid: child.pid,
      address,
      ready: async () => (await spec.probe()) === 'answers',
      logs: [{ file: a.outFile, since: outSince }],
      startedNow: true,
    }).catch((err: unknown) => {
      if (!isProcessAlive(child.pid)) removePidFile(a.pidFile);
      throw err;
    });
    say(`registry: ready at ${a.url}`);
    return { ...base, state: 'running', pid: child.pid, owned: true, action: 'started' };
  }

  return {
    needsStart: () => needsStart(spec),
    start,
    stop: () => stopOwned(deps, 'registry', label, a.pidFile, REGISTRY_CMD_MARK),
    status: () => jvmStatus(spec),
  };
}
