// BitPredict services as real CLI child processes (`node --import tsx cli/main.ts <command>`), for
// the chaos scenarios that kill them, restart them, or restart what they depend on. Each worker
// gets its own health port and is asked over HTTP whether it is ready (/readyz), as a kubelet
// would; an exit the scenario did not cause is counted as a crash.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { rssMb } from './helpers-b-procs.js';
import { REPO_ROOT } from '../helpers/platform.js';
import { chaosReportDir } from './report.js';

/**
 * Every line a chaos service prints also goes to <report dir>/logs/<name>.log (appended, with a
 * header per start): failure messages keep only the tail, and what led up to an exit is often earlier.
 */
function serviceLog(name: string): (text: string) => void {
  const dir = join(chaosReportDir(), 'logs');
  const file = join(dir, `${name.replace(/[^a-z0-9-]/gi, '_')}.log`);
  try {
    mkdirSync(dir, { recursive: true });
    appendFileSync(file, `--- ${new Date().toISOString()} start\n`);
  } catch {
    return () => undefined;
  }
  return (text) => {
    try {
      appendFileSync(file, text);
    } catch {
      // A full disk must not fail the scenario; the tail in memory still holds the end.
    }
  };
}

/** The BITPREDICT_* settings of this process (the stack's addresses), for the children to inherit. */
export function inheritedEnv(): Record<string, string> {
  const out: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('BITPREDICT_') && v !== undefined) out[k] = v;
  return out;
}

export interface ServiceProcess {
  readonly name: string;
  /** Port whose /readyz says whether the service is ready (null: a one-shot job such as replay). */
  readonly port: number | null;
  readonly running: boolean;
  /** Exits the scenario did not cause (crashes). */
  readonly crashes: number;
  /** Exit codes of runs that ended by themselves, in order (one-shot jobs: 0 when done). */
  readonly exits: readonly (number | null)[];
  /** Peak RSS seen by sample(), MB. */
  readonly peakRssMb: number;
  start(): void;
  /** Sends the signal and waits for the exit; the exit is not a crash. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Resolves with the exit code of the current run (one-shot jobs). */
  exited(): Promise<number | null>;
  ready(): Promise<boolean>;
  /** The /readyz answer (status and body), for failure messages. */
  readyz(): Promise<string>;
  /** Reads the process's RSS from /proc (Linux), keeping the peak. */
  sample(): void;
  /** The last output of the process, for failure messages. */
  tail(chars?: number): string;
}

export function serviceProcess(opts: {
  name: string;
  command: string;
  env: Record<string, string>;
  port: number | null;
  log?: (line: string) => void;
}): ServiceProcess {
  let child: ChildProcess | null = null;
  let crashes = 0;
  let peakRssMb = 0;
  const exits: (number | null)[] = [];
  let output = '';
  let exitPromise: Promise<number | null> = Promise.resolve(null);
  let killing = false;
  const self: ServiceProcess = {
    name: opts.name,
    port: opts.port,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    get crashes() {
      return crashes;
    },
    get exits() {
      return exits;
    },
    get peakRssMb() {
      return peakRssMb;
    },
    start() {
      if (self.running) throw new Error(`${opts.name} is already running`);
      killing = false;
      const c = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', opts.command], {
        cwd: REPO_ROOT,
        env: opts.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      const toFile = serviceLog(opts.name);
      const collect = (d: Buffer): void => {
        output = (output + d.toString()).slice(-20_000);
        toFile(d.toString());
        opts.log?.(d.toString());
      };
      c.stdout?.on('data', collect);
      c.stderr?.on('data', collect);
      exitPromise = new Promise((resolve) => {
        c.once('exit', (code) => {
          if (!killing) {
            exits.push(code);
            // A one-shot job that finished (exit 0) did its job; any other exit nobody asked for is a crash.
            if (opts.port !== null || code !== 0) crashes++;
          }
          resolve(code);
        });
      });
    },
    async kill(signal) {
      const c = child;
      if (c === null || c.exitCode !== null || c.signalCode !== null) return;
      killing = true;
      c.kill(signal);
      await exitPromise;
    },
    exited: () => exitPromise,
    async ready() {
      if (opts.port === null || !self.running) return false;
      try {
        const res = await fetch(`http://127.0.0.1:${opts.port}/readyz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        return res.status === 200;
      } catch {
        return false;
      }
    },
    async readyz() {
      if (opts.port === null) return 'no port';
      try {
        const res = await fetch(`http://127.0.0.1:${opts.port}/readyz`, { signal: AbortSignal.timeout(2000) });
        return `${res.status} ${(await res.text()).slice(0, 600)}`;
      } catch (err) {
        return `no answer: ${String(err)}`;
      }
    },
    sample() {
      const pid = child?.pid;
      if (pid === undefined || !self.running) return;
      // The tsx loader runs the CLI in this same process (node --import), so its RSS is the service's.
      peakRssMb = Math.max(peakRssMb, rssMb(pid) ?? 0);
    },
    tail: (chars = 4000) => output.slice(-chars),
  };
  return self;
}
