// Process plumbing of the local stack: finding tools, running Maven, starting servers detached
// from this CLI (they outlive `stack up`), stopping them, and reading log tails for errors.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BitPredictError } from '../../core/errors.js';
import { isProcessAlive } from './pidfile.js';

export interface Tools {
  readonly java: string;
  readonly mvn: string;
  readonly redisServer: string;
  readonly tar: string;
}

export const defaultTools: Tools = { java: 'java', mvn: 'mvn', redisServer: 'redis-server', tar: 'tar' };

export interface RunResult {
  readonly status: number | null;
  readonly output: string;
  readonly missing: boolean;
}

/** Runs a short command to completion; `missing` when the executable does not exist. */
export function runSync(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', timeout: opts.timeoutMs ?? 0, maxBuffer: 16 * 1024 * 1024 });
  const missing = r.error !== undefined && 'code' in r.error && r.error.code === 'ENOENT';
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, missing };
}

/**
 * Runs a long command (Maven downloads) without blocking the event loop, so progress lines and
 * signals still get through.
 */
export function runAsync(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    let output = '';
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      // Only the tail matters for error messages; bound memory on chatty builds.
      output = (output + chunk.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err: NodeJS.ErrnoException) => resolvePromise({ status: null, output: err.message, missing: err.code === 'ENOENT' }));
    child.on('close', (status) => resolvePromise({ status, output, missing: false }));
  });
}

/** Major version from `java -version` output ("17.0.15", "1.8.0_392" -> 8, "21"). */
export function parseJavaMajor(output: string): number | null {
  const m = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  if (!m?.[1]) return null;
  const first = Number(m[1]);
  return first === 1 && m[2] !== undefined ? Number(m[2]) : first;
}

export function requireMaven(tools: Tools): void {
  const r = runSync(tools.mvn, ['-v'], { timeoutMs: 60_000 });
  if (r.missing) {
    throw new BitPredictError(
      'ERR_STACK',
      `mvn was not found on PATH: install Maven 3.6 or newer (apt-get install maven) so stack up can fetch Kafka and Apicurio from Maven Central`,
    );
  }
  if (r.status !== 0) throw new BitPredictError('ERR_STACK', `"${tools.mvn} -v" failed (exit ${r.status}): ${lastLine(r.output)}`);
}

// Maven -q -B still emits ANSI resets on some versions; strip them from what users see.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

export function lastLine(text: string): string {
  const lines = text
    .replace(ANSI, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const errorLine = lines.find((l) => l.startsWith('[ERROR]'));
  return errorLine ?? lines.at(-1) ?? '(no output)';
}

export interface Detached {
  readonly pid: number;
}

/**
 * Starts a server in its own process group with stdout/stderr appended to `outFile`, and lets
 * this CLI exit while it keeps running. Resolves once the OS has spawned it (or rejects with
 * ERR_STACK when the executable cannot be started).
 */
export function spawnDetached(cmd: string, args: string[], opts: { cwd: string; outFile: string }): Promise<Detached> {
  mkdirSync(dirname(opts.outFile), { recursive: true });
  const fd = openSync(opts.outFile, 'a');
  return new Promise<Detached>((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', fd, fd] });
    child.once('error', (err: NodeJS.ErrnoException) => {
      closeSync(fd);
      reject(new BitPredictError('ERR_STACK', `could not start ${cmd}: ${err.message}`, { cause: err }));
    });
    child.once('spawn', () => {
      // The child holds its own copy of the descriptor; ours is no longer needed.
      closeSync(fd);
      child.unref();
      if (child.pid === undefined) reject(new BitPredictError('ERR_STACK', `could not start ${cmd}: no pid`));
      else resolvePromise({ pid: child.pid });
    });
  });
}

/** SIGTERM, wait up to graceMs for exit, then SIGKILL. Returns how the process ended. */
export async function stopProcess(
  pid: number,
  graceMs = 30_000,
  alive: (pid: number) => boolean = isProcessAlive,
): Promise<'not-running' | 'terminated' | 'killed'> {
  if (!alive(pid)) return 'not-running';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'not-running';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return 'terminated';
    await sleep(200);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'terminated';
  }
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
  return 'killed';
}

export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** True when `needle` occurs in `file` at or after byte `from`. */
export function fileContainsSince(file: string, needle: string, from: number): boolean {
  if (!existsSync(file)) return false;
  const size = fileSize(file);
  // A rolled-over log is smaller than where we started reading; then the whole file is new.
  const start = size < from ? 0 : from;
  return readRange(file, start, size).includes(needle);
}

function readRange(file: string, from: number, to: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, to - from));
    let off = 0;
    while (off < buf.length) {
      const bytesRead = readSync(fd, buf, off, buf.length - off, from + off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** Last n lines of a text file ("" when missing). Reads at most the last 256 KiB. */
export function tailFile(file: string, n = 20): string {
  if (!existsSync(file)) return '';
  const size = fileSize(file);
  const lines = readRange(file, Math.max(0, size - 256 * 1024), size)
    .toString('utf8')
    .replace(/\n+$/, '')
    .split('\n');
  return lines.slice(-n).join('\n');
}

export function readTextOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
