// Redis in the local stack: reuse a Redis that answers PING, else start redis-server daemonized
// (no persistence) and own it; stop it only when our pid file points at it.
import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BitPredictError } from '../../core/errors.js';
import { formatHostPort, type HostPort, type StackLayout } from './layout.js';
import { checkPidFile } from './pidfile.js';
import { isPortOpen, pingRedis } from './probe.js';
import { lastLine, runSync, tailFile } from './proc.js';
import { POLL_MS, stopOwned, timeoutText, type ServerDeps, type ServiceState, type ServiceStatus } from './server.js';

const REDIS_CMD_MARK = 'redis-server';

export function redisNotInstalledMessage(hp: HostPort): string {
  return `Redis is not answering on ${formatHostPort(hp)} and redis-server is not installed (apt-get install redis-server)`;
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
    deps.say(
      pidState.alive
        ? `redis: already running on ${address} (pid ${pidState.pid}, owned)`
        : `redis: reusing the Redis already answering on ${address} (not owned; down leaves it alone)`,
    );
    return {
      ...base,
      state: 'running',
      pid: pidState.alive ? pidState.pid : null,
      owned: pidState.alive,
      logFile: pidState.alive ? r.logFile : null,
      action: 'reused',
    };
  }
  if (ping === 'auth-required') {
    throw new BitPredictError(
      'ERR_STACK',
      `Redis on ${address} wants a password: put it in BITPREDICT_REDIS_URL (redis://:password@${address}) or use another port`,
    );
  }
  if (!pidState.alive && (await isPortOpen(r.listen))) {
    throw new BitPredictError(
      'ERR_STACK',
      `${address} is taken by a process that does not answer like Redis; stop it or point BITPREDICT_REDIS_URL at another port`,
    );
  }
  const started = Date.now();
  if (!pidState.alive) startRedisServer(deps, address);
  const deadline = started + deps.layout.startTimeoutMs;
  for (;;) {
    if ((await pingRedis(r.listen, r.password)) === 'pong') break;
    if (Date.now() > deadline) {
      throw new BitPredictError(
        'ERR_STACK',
        `Redis did not answer PING on ${address} within ${timeoutText(deps.layout.startTimeoutMs)}. Last 20 lines of ${r.logFile}:\n${tailFile(r.logFile, 20)}`,
      );
    }
    await sleep(POLL_MS);
  }
  const pid = checkPidFile(r.pidFile, REDIS_CMD_MARK);
  deps.say(`redis: ready on ${address}${pid.pid === null ? '' : ` (pid ${pid.pid})`}`);
  return { ...base, state: 'running', pid: pid.alive ? pid.pid : null, owned: true, action: 'started' };
}

/** Runs redis-server, which daemonizes itself and writes our pid file before it returns. */
function startRedisServer(deps: EnsureRedisDeps, address: string): void {
  const r = deps.layout.redis;
  mkdirSync(r.dataDir, { recursive: true });
  mkdirSync(deps.layout.logsDir, { recursive: true });
  mkdirSync(deps.layout.pidsDir, { recursive: true });
  deps.say(`redis: starting redis-server on ${address}...`);
  const args = [
    '--port',
    String(r.listen.port),
    '--bind',
    r.listen.host,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'yes',
    '--dir',
    r.dataDir,
    '--logfile',
    r.logFile,
    '--pidfile',
    r.pidFile,
    ...(r.password === null ? [] : ['--requirepass', r.password]),
  ];
  const res = runSync(deps.redisServer, args, { timeoutMs: 30_000 });
  if (res.missing) throw new BitPredictError('ERR_STACK', redisNotInstalledMessage(r.listen));
  if (res.status !== 0) throw new BitPredictError('ERR_STACK', `redis-server failed to start (exit ${res.status}): ${lastLine(res.output)}; see ${r.logFile}`);
}

export function stopRedis(deps: ServerDeps): Promise<void> {
  return stopOwned(deps, 'redis', 'redis-server', deps.layout.redis.pidFile, REDIS_CMD_MARK);
}

/** After `down`: a Redis that still answers was not started by the stack, and says so. */
export async function noteRedisLeftRunning(deps: ServerDeps): Promise<void> {
  const r = deps.layout.redis;
  if ((await pingRedis(r.listen, r.password)) === 'pong') {
    deps.say(`redis: leaving the Redis on ${formatHostPort(r.listen)} alone (not started by the stack)`);
  }
}

export async function redisStatus(layout: StackLayout): Promise<ServiceStatus> {
  const r = layout.redis;
  const pidState = checkPidFile(r.pidFile, REDIS_CMD_MARK, undefined, { removeStale: false });
  const ping = await pingRedis(r.listen, r.password);
  const state: ServiceState = ping === 'pong' ? 'running' : pidState.alive ? 'starting' : (await isPortOpen(r.listen)) ? 'foreign' : 'stopped';
  return {
    name: 'redis',
    label: 'Redis',
    state,
    pid: pidState.alive ? pidState.pid : null,
    address: formatHostPort(r.listen),
    owned: pidState.alive,
    logFile: pidState.alive ? r.logFile : null,
  };
}
