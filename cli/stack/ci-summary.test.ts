import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { failedTests, parseVitestSummary, summaryLine } from './ci-summary.js';

const ESC = String.fromCharCode(27);
// Captured from vitest 4.1 with colours forced (CI logs keep them).
const coloured = `${ESC}[2m Test Files ${ESC}[22m ${ESC}[1m${ESC}[31m1 failed${ESC}[39m${ESC}[22m${ESC}[90m (1)${ESC}[39m
${ESC}[2m      Tests ${ESC}[22m ${ESC}[1m${ESC}[31m1 failed${ESC}[39m${ESC}[22m${ESC}[2m | ${ESC}[22m${ESC}[1m${ESC}[32m1 passed${ESC}[39m${ESC}[22m${ESC}[2m | ${ESC}[22m${ESC}[33m1 skipped${ESC}[39m${ESC}[2m | ${ESC}[22m${ESC}[90m1 todo${ESC}[39m${ESC}[90m (4)${ESC}[39m
${ESC}[2m   Start at ${ESC}[22m 09:11:41
`;

describe('parseVitestSummary', () => {
  it('reads passed only', () => {
    expect(parseVitestSummary(' Test Files  2 passed (2)\n      Tests  38 passed (38)\n   Duration  948ms\n')).toEqual({
      passed: 38,
      failed: 0,
      skipped: 0,
      total: 38,
    });
  });

  it('reads failed, passed, skipped and todo in any order, through ANSI colours', () => {
    expect(parseVitestSummary(coloured)).toEqual({ passed: 1, failed: 1, skipped: 2, total: 4 });
    expect(parseVitestSummary('      Tests  10 passed | 2 failed (12)')).toEqual({ passed: 10, failed: 2, skipped: 0, total: 12 });
  });

  it('does not mistake the Test Files line or test output for the summary', () => {
    expect(parseVitestSummary(' Test Files  3 failed | 1 passed (4)\n')).toBeNull();
    const log = 'stdout | Tests  99 passed (99) printed by a test\n      Tests  1 failed | 5 passed (6)\n';
    expect(parseVitestSummary(log)).toEqual({ passed: 5, failed: 1, skipped: 0, total: 6 });
  });

  it('takes the last summary when a log holds several runs', () => {
    expect(parseVitestSummary('      Tests  1 failed (1)\n...\n      Tests  7 passed (7)\n')).toMatchObject({ passed: 7, failed: 0 });
  });

  it.each([
    ['empty log', ''],
    ['crash before the summary', 'Error: Cannot find module\n    at x.js:1:1\n'],
    ['no tests', 'No test files found, exiting with code 1\n'],
    ['truncated summary line', '      Tests  12 passed | 1 fa'],
    ['garbled counts', '      Tests  lots passed (12)\n'],
  ])('returns null for %s', (_name, log) => {
    expect(parseVitestSummary(log)).toBeNull();
  });
});

describe('failedTests', () => {
  it('names each failed test once, in log order, through ANSI colours', () => {
    const log = [
      ` ${ESC}[31m×${ESC}[39m |unit| core/a.test.ts > a > breaks 12ms`,
      `${ESC}[41m${ESC}[1m FAIL ${ESC}[22m${ESC}[49m |unit| core/a.test.ts > a > breaks`,
      'AssertionError: expected 1 to be 2',
      ' FAIL  |integration| test/integration/b.test.ts > b > times out',
      ' FAIL  |unit| core/a.test.ts > a > breaks',
      'stdout | core/c.test.ts > FAIL is a word here',
    ].join('\n');
    expect(failedTests(log).map((t) => t.name)).toEqual(['|unit| core/a.test.ts > a > breaks', '|integration| test/integration/b.test.ts > b > times out']);
    expect(failedTests('      Tests  7 passed (7)\n')).toEqual([]);
  });

  it('keeps the first error line and source frame under each heading', () => {
    const log = [
      ` FAIL  |integration| test/integration/d.test.ts > drivers > concurrent`,
      'AssertionError: kafkajs: expected [ …(199) ] to have a length of 200 but got 199',
      '',
      '- Expected',
      '+ Received',
      '',
      ` ${ESC}[36m ❯ test/integration/d.test.ts:145:28${ESC}[39m`,
      '    143|       await producer.close();',
      '⎯⎯⎯⎯⎯⎯⎯[1/2]⎯',
      ' FAIL  |unit| core/b.test.ts > b > slow',
      'Error: Test timed out in 5000ms.',
      'x'.repeat(10),
      ' FAIL  |unit| core/c.test.ts > c > silent',
      '⎯⎯⎯⎯⎯⎯⎯[2/2]⎯',
      'TypeError: not under any heading',
    ].join('\n');
    expect(failedTests(log)).toEqual([
      {
        name: '|integration| test/integration/d.test.ts > drivers > concurrent',
        reason: 'AssertionError: kafkajs: expected [ …(199) ] to have a length of 200 but got 199',
        at: 'test/integration/d.test.ts:145:28',
      },
      { name: '|unit| core/b.test.ts > b > slow', reason: 'Error: Test timed out in 5000ms.', at: '' },
      { name: '|unit| core/c.test.ts > c > silent', reason: '', at: '' },
    ]);
    expect(failedTests(` FAIL  |unit| a.ts > x\nError: ${'y'.repeat(500)}`)[0]?.reason).toHaveLength(403);
  });
});

describe('summaryLine', () => {
  it('prints "N passed, N failed" and is green only with passes and no failures', () => {
    expect(summaryLine({ passed: 5, failed: 0, skipped: 1, total: 6 })).toEqual({ line: '5 passed, 0 failed', ok: true });
    expect(summaryLine({ passed: 5, failed: 2, skipped: 0, total: 7 })).toEqual({ line: '5 passed, 2 failed', ok: false });
    expect(summaryLine({ passed: 0, failed: 0, skipped: 3, total: 3 })).toEqual({ line: '0 passed, 0 failed', ok: false });
    expect(summaryLine(null)).toEqual({ line: '0 passed, 0 failed (no vitest summary found in the log)', ok: false });
  });
});

describe('ci-summary as a script', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli', 'stack', 'ci-summary.ts'), ...args], { cwd: root, encoding: 'utf8' });

  it('prints the line and exits 0 or 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-ci-'));
    writeFileSync(join(dir, 'green.log'), '      Tests  3 passed (3)\n');
    writeFileSync(join(dir, 'red.log'), coloured);
    const green = run([join(dir, 'green.log')]);
    expect([green.stdout, green.status]).toEqual(['3 passed, 0 failed\n', 0]);
    const red = run([join(dir, 'red.log')]);
    expect([red.stdout, red.status]).toEqual(['1 passed, 1 failed\n', 1]);
    const missing = run([join(dir, 'nope.log')]);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toMatch(/^0 passed, 0 failed \(cannot read /);
    expect(run([]).status).toBe(2);
  });
});
