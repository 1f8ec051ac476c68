// The chaos suite's one table. Every scenario (test/chaos/*.test.ts) records one row per run with
// recordChaos; `npm run test:chaos` ends by printing the rows as a table (test/chaos/print.ts) and
// they stay on disk as JSON, one file per scenario, in CHAOS_REPORT_DIR (default .stack/chaos).
//
// The columns are the issue's: records lost and duplicated (counted by reading every output topic
// read_committed and comparing with what went in, never estimated), process crashes (an exit the
// scenario did not cause), recovery time (from the fault to the first healthy output), max
// consumer lag and peak memory (RSS of the process under test, MB). A figure a scenario does not
// measure is null, and the printer shows it as "-", never 0.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../helpers/platform.js';

export interface ChaosRow {
  /** Short stable name, also the file name: "broker-kill", "redis-restart", ... */
  readonly scenario: string;
  /** What was done, in a few words ("kill -9 broker 2 of 3 mid-replay, restart after 20 s"). */
  readonly fault: string;
  readonly lost: number;
  readonly duplicated: number;
  readonly crashes: number;
  readonly recoveryMs: number | null;
  readonly maxLag: number | null;
  readonly peakMemoryMb: number | null;
  /** Records (or requests, frames) the scenario pushed through: the denominator of lost/duplicated. */
  readonly records: number;
  readonly notes?: string;
}

export interface ChaosRecord extends ChaosRow {
  readonly at: string;
}

export function chaosReportDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(REPO_ROOT, env.CHAOS_REPORT_DIR ?? join('.stack', 'chaos'));
}

const SCENARIO = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** Writes the scenario's row (replacing an earlier run's) and returns the path. */
export function recordChaos(row: ChaosRow, env: NodeJS.ProcessEnv = process.env): string {
  if (!SCENARIO.test(row.scenario)) throw new Error(`chaos scenario name "${row.scenario}" must match ${SCENARIO.source}`);
  for (const k of ['lost', 'duplicated', 'crashes', 'records'] as const) {
    if (!Number.isInteger(row[k]) || row[k] < 0) throw new Error(`chaos ${row.scenario}: ${k} must be a count, got ${row[k]}`);
  }
  const dir = chaosReportDir(env);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${row.scenario}.json`);
  const record: ChaosRecord = { ...row, at: new Date().toISOString() };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}

export function readChaos(env: NodeJS.ProcessEnv = process.env): ChaosRecord[] {
  const dir = chaosReportDir(env);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.sort().map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as ChaosRecord);
}

const fmt = (v: number | null, digits = 0): string => (v === null ? '-' : v.toFixed(digits));

/** The table `npm run test:chaos` prints: one row per scenario. */
export function chaosTable(rows: readonly ChaosRecord[]): string {
  const header = ['scenario', 'records', 'lost', 'dup', 'crashes', 'recovery s', 'max lag', 'peak MB', 'fault'];
  const body = rows.map((r) => [
    r.scenario,
    String(r.records),
    String(r.lost),
    String(r.duplicated),
    String(r.crashes),
    r.recoveryMs === null ? '-' : (r.recoveryMs / 1000).toFixed(1),
    fmt(r.maxLag),
    fmt(r.peakMemoryMb),
    r.fault,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
