// Reads vitest's run summary ("Tests  3 failed | 120 passed | 2 skipped (125)") from a saved log
// so that .ci/run can end with one stable line, "N passed, N failed", and an honest exit code.
// Run as a script: `tsx cli/stack/ci-summary.ts <vitest log>`.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createOutput, type Output } from '../output.js';

export interface TestSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly total: number;
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

/**
 * Counts from the last "Tests ..." summary line of a vitest log, or null when the log has none
 * (vitest crashed, found no tests, or the log was cut short). "Test Files" lines are not counted.
 */
export function parseVitestSummary(log: string): TestSummary | null {
  const lines = log.replace(ANSI, '').split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^\s*Tests\s+(.+?)\s*\((\d+)\)\s*$/.exec(lines[i] ?? '');
    if (!m?.[1] || m[2] === undefined) continue;
    const counts: Record<string, number> = {};
    for (const part of m[1].split('|')) {
      const seg = /^\s*(\d+)\s+([a-z ]+?)\s*$/i.exec(part);
      if (!seg?.[1] || !seg[2]) return null;
      counts[seg[2].toLowerCase()] = (counts[seg[2].toLowerCase()] ?? 0) + Number(seg[1]);
    }
    const passed = counts.passed ?? 0;
    const failed = counts.failed ?? 0;
    const skipped = (counts.skipped ?? 0) + (counts.todo ?? 0);
    return { passed, failed, skipped, total: Number(m[2]) };
  }
  return null;
}

export interface FailedTest {
  readonly name: string;
  /** The first error line under the test's FAIL heading, cut to 400 characters ('' if none). */
  readonly reason: string;
  /** Where it failed ("test/x.test.ts:145:28"), from the first "❯" frame, or ''. */
  readonly at: string;
}

const REASON_MAX = 400;

/**
 * The failed tests a vitest log names ("FAIL  |project| file > suite > test" in the failure
 * section), each once, in log order, with the first error line and source frame printed under its
 * heading: .ci/run prints them just above its last line, so a CI record that keeps only the tail
 * still says what failed and why.
 */
export function failedTests(log: string): FailedTest[] {
  const found = new Map<string, { reason: string; at: string }>();
  let current: { reason: string; at: string } | null = null;
  for (const raw of log.replace(ANSI, '').split(/\r?\n/)) {
    const m = /^\s*FAIL\s+(.+?)\s*$/.exec(raw);
    if (m?.[1]) {
      current = found.get(m[1]) ?? { reason: '', at: '' };
      found.set(m[1], current);
      continue;
    }
    if (current === null) continue;
    const line = raw.trim();
    if (/^(Test Files|Tests)\s/.test(line) || /^⎯+/.test(line)) {
      current = null;
      continue;
    }
    if (current.reason === '' && /^[A-Za-z]*(Error|Exception)\b|^Error:|^TypeError|^\[?vitest\]?|^Test timed out/.test(line)) {
      current.reason = line.length > REASON_MAX ? `${line.slice(0, REASON_MAX)}...` : line;
    } else if (current.at === '' && current.reason !== '') {
      const frame = /^❯\s+(\S+:\d+:\d+)/.exec(line);
      if (frame?.[1]) current.at = frame[1];
    }
  }
  return [...found].map(([name, d]) => ({ name, ...d }));
}

/** The one line .ci/run ends with, and whether the run counts as green. */
export function summaryLine(summary: TestSummary | null): { line: string; ok: boolean } {
  if (summary === null) return { line: '0 passed, 0 failed (no vitest summary found in the log)', ok: false };
  const ok = summary.failed === 0 && summary.passed > 0;
  return { line: `${summary.passed} passed, ${summary.failed} failed`, ok };
}

function main(argv: string[], output: Output): number {
  const file = argv[0];
  if (file === undefined) {
    output.error('usage: tsx cli/stack/ci-summary.ts <vitest log>');
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    output.line(`0 passed, 0 failed (cannot read ${file}: ${(err as Error).message})`);
    return 1;
  }
  const failed = failedTests(text);
  const shown = failed.slice(0, 30);
  for (const t of shown) {
    output.line(`failed: ${t.name}`);
    if (t.reason !== '') output.line(`  ${t.reason}${t.at === '' ? '' : ` (${t.at})`}`);
  }
  if (failed.length > shown.length) output.line(`failed: ... and ${failed.length - shown.length} more (see ${file})`);
  const { line, ok } = summaryLine(parseVitestSummary(text));
  output.line(line);
  return ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2), createOutput({ stdout: process.stdout, stderr: process.stderr }));
}
