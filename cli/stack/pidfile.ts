// Pid files are the only record of which servers this stack owns. A pid file whose process is
// gone (machine rebooted, process killed) is stale and removed; a pid that now belongs to an
// unrelated process (pid reuse) is treated as stale too, so `down` never signals a stranger.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface PidFileState {
  /** Pid recorded in the file, or null when there is no usable file. */
  readonly pid: number | null;
  /** True when the recorded process still runs and looks like the expected server. */
  readonly alive: boolean;
  /** True when a file existed but pointed at no live matching process (and was removed). */
  readonly staleRemoved: boolean;
}

/** Parses pid-file content; null for anything that is not a single positive integer. */
export function parsePid(text: string): number | null {
  const t = text.trim();
  if (!/^\d{1,10}$/.test(t)) return null;
  const pid = Number(t);
  return pid > 1 && pid <= 4_194_304 ? pid : null;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user; it is alive, yet surely not ours.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Command line of a process, or null when it cannot be read (no /proc, process gone).
 * Used only to guard against pid reuse.
 */
export function readCmdline(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return null;
  }
}

export interface PidProbe {
  isAlive(pid: number): boolean;
  cmdline(pid: number): string | null;
}

export const systemPidProbe: PidProbe = { isAlive: isProcessAlive, cmdline: readCmdline };

/**
 * Reads a pid file and removes it when stale. `expect` is a substring the process command line
 * must contain (for example "kafka.Kafka"); when the command line cannot be read at all the pid
 * is trusted, because liveness is all the platform offers.
 */
export function checkPidFile(file: string, expect: string, probe: PidProbe = systemPidProbe, opts: { removeStale?: boolean } = {}): PidFileState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { pid: null, alive: false, staleRemoved: false };
  }
  const pid = parsePid(text);
  if (pid !== null && probe.isAlive(pid)) {
    const cmd = probe.cmdline(pid);
    if (cmd === null || cmd.includes(expect)) return { pid, alive: true, staleRemoved: false };
  }
  if (opts.removeStale === false) return { pid, alive: false, staleRemoved: false };
  rmSync(file, { force: true });
  return { pid, alive: false, staleRemoved: true };
}

export function writePidFile(file: string, pid: number): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${pid}\n`);
}

export function removePidFile(file: string): void {
  rmSync(file, { force: true });
}
