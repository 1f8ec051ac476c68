// What the local stack's three servers share: the status vocabulary that `up` and `status`
// report, the deps the facade (stack.ts) hands each server's part (kafka.ts, registry.ts,
// redis.ts), waiting for a started server to become ready, and stopping a server the stack owns.
import { setTimeout as sleep } from 'node:timers/promises';
import { BitPredictError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { JavaRuntime } from './java.js';
import type { StackLayout } from './layout.js';
import { checkPidFile, isProcessAlive, removePidFile } from './pidfile.js';
import type { ProbeResult } from './probe.js';
import { fileSize, stopProcess, tailFile, type Tools } from './proc.js';

// registry-tls and redis-tls run only in secure mode (stack up --secure).
export const SERVICES = ['kafka', 'registry', 'redis', 'registry-tls', 'redis-tls'] as const;
/** kafka-1, kafka-2, ...: the nodes of a cluster (stack up --brokers N) in place of kafka. */
export type ServiceName = (typeof SERVICES)[number] | `kafka-${number}`;

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

export const POLL_MS = 300;
const STOP_GRACE_MS = 30_000;

export function timeoutText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** The JVM each Java server needs; looked up only when a server has to start (it runs `java -version`). */
export interface StackJava {
  kafka(): JavaRuntime;
  registry(): JavaRuntime;
}

/** What the facade hands every server's part. */
export interface ServerDeps {
  readonly layout: StackLayout;
  readonly tools: Tools;
  /** The stack's child logger. */
  readonly logger: Logger;
  readonly java: StackJava;
  /** A progress line for people; the logger gets it at debug. */
  readonly say: (line: string) => void;
  /** A path as short as the user can use it: relative to the working folder when inside it. */
  readonly rel: (path: string) => string;
}

/** One of the Java servers (Kafka, the registry), as the facade drives it. */
export interface JvmServer {
  /** True when `up` will have to start this server; throws early (before any download) on a foreign port. */
  needsStart(): Promise<boolean>;
  start(): Promise<ServiceStatus>;
  stop(): Promise<void>;
  status(): Promise<ServiceStatus>;
}

/** What `needsStart` and `status` read of a Java server: its pid file, its probe, its port. */
export interface JvmServerSpec {
  readonly name: 'kafka' | 'registry' | `kafka-${number}`;
  readonly label: string;
  readonly address: string;
  readonly pidFile: string;
  /** A word of the server's command line, so a reused pid of another program is not taken for ours. */
  readonly mark: string;
  readonly logFile: string;
  probe(): Promise<ProbeResult>;
  foreignPort(): BitPredictError;
}

export async function needsStart(spec: JvmServerSpec): Promise<boolean> {
  const found = await spec.probe();
  if (found === 'answers') return false;
  if (checkPidFile(spec.pidFile, spec.mark, undefined, { removeStale: false }).alive) return false;
  if (found === 'foreign') throw spec.foreignPort();
  return true;
}

export async function jvmStatus(spec: JvmServerSpec): Promise<ServiceStatus> {
  const pidState = checkPidFile(spec.pidFile, spec.mark, undefined, { removeStale: false });
  const found = await spec.probe();
  const state: ServiceState = found === 'answers' ? 'running' : pidState.alive ? 'starting' : found === 'foreign' ? 'foreign' : 'stopped';
  return {
    name: spec.name,
    label: spec.label,
    state,
    pid: pidState.alive ? pidState.pid : null,
    address: spec.address,
    owned: pidState.alive,
    logFile: spec.logFile,
  };
}

export interface WaitOptions {
  readonly name: string;
  readonly pid: number;
  readonly address: string;
  readonly ready: () => Promise<boolean>;
  readonly logs: readonly { file: string; since: number }[];
  /** Started by this call: a server that never got ready is stopped again, one that was starting before is left alone. */
  readonly startedNow: boolean;
}

/** Polls until the server is ready; throws with the tail of the telling log when it exits or times out. */
export async function waitUntilReady(startTimeoutMs: number, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (await opts.ready()) return;
    const exited = !isProcessAlive(opts.pid);
    if (exited || Date.now() > deadline) {
      // The log that grew since the start tells what went wrong; fall back to the last one.
      const log = opts.logs.find((l) => fileSize(l.file) > l.since) ?? opts.logs[opts.logs.length - 1];
      const tail = log ? tailFile(log.file, 20) : '';
      const why = exited
        ? `${opts.name} (pid ${opts.pid}) exited before it was ready on ${opts.address}`
        : `${opts.name} did not become ready on ${opts.address} within ${timeoutText(startTimeoutMs)}`;
      if (!exited && opts.startedNow) await stopProcess(opts.pid, 10_000);
      throw new BitPredictError('ERR_STACK', `${why}. Last 20 lines of ${log?.file ?? '(no log)'}:\n${tail || '(empty)'}`, {
        details: { logFiles: opts.logs.map((l) => l.file) },
      });
    }
    await sleep(POLL_MS);
  }
}

/** Stops the server our pid file points at (SIGTERM, SIGKILL after the grace period); anything else is left alone. */
export async function stopOwned(deps: Pick<ServerDeps, 'logger' | 'say'>, name: ServiceName, label: string, file: string, mark: string): Promise<void> {
  const state = checkPidFile(file, mark);
  if (state.staleRemoved) deps.say(`${name}: removed stale pid file (pid ${state.pid} is gone)`);
  if (!state.alive || state.pid === null) return;
  deps.say(`${name}: stopping ${label} (pid ${state.pid})...`);
  const how = await stopProcess(state.pid, STOP_GRACE_MS);
  removePidFile(file);
  if (how === 'killed') {
    deps.logger.warn({ pid: state.pid, server: name }, 'did not stop within the grace period; killed');
    deps.say(`${name}: did not stop within ${STOP_GRACE_MS / 1000} s; sent SIGKILL`);
  } else {
    deps.say(`${name}: stopped`);
  }
}
