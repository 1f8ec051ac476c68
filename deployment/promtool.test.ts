// The alert rules under Prometheus' own tool: `promtool check rules` (syntax, PromQL, templates)
// and `promtool test rules` (deployment/prometheus/rules.test.yaml: each alert fires on the series
// it is meant for and stays quiet otherwise, including the masked-lag case). promtool comes from
// Debian's `prometheus` package, which .ci/run installs; without it these two tests are skipped and
// say why. Which alerts have a firing test is checked here without promtool.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const PROM_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'prometheus');
const RULES = join(PROM_DIR, 'rules.yaml');
const RULE_TESTS = join(PROM_DIR, 'rules.test.yaml');

function promtoolVersion(): string | undefined {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8', timeout: 15_000 });
  return r.status === 0 ? (`${r.stdout}${r.stderr}`.split('\n')[0] ?? 'promtool') : undefined;
}

const PROMTOOL = promtoolVersion();
if (PROMTOOL === undefined) {
  console.warn('promtool tests skipped: `promtool` is not on PATH (Debian: apt-get install prometheus; .ci/run installs it)');
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

type Obj = Record<string, unknown>;
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

describe('deployment/prometheus/rules.test.yaml', () => {
  it('has a test in which each alert of rules.yaml fires, and one in which it stays quiet', () => {
    const alerts = list((parse(readFileSync(RULES, 'utf8')) as Obj).groups).flatMap((g) => list(g.rules).map((r) => String(r.alert)));
    const cases = list((parse(readFileSync(RULE_TESTS, 'utf8')) as Obj).tests).flatMap((t) => list(t.alert_rule_test));
    const fires = new Set(cases.filter((c) => list(c.exp_alerts).length > 0).map((c) => String(c.alertname)));
    const quiet = new Set(cases.filter((c) => list(c.exp_alerts).length === 0).map((c) => String(c.alertname)));
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.filter((a) => !fires.has(a))).toEqual([]);
    expect(alerts.filter((a) => !quiet.has(a))).toEqual([]);
  });

  it.runIf(PROMTOOL !== undefined)(`passes promtool check rules and test rules (${PROMTOOL ?? ''})`, () => {
    const check = promtool('check', 'rules', RULES);
    expect(check.output).toContain('SUCCESS');
    expect(check.status).toBe(0);
    const test = promtool('test', 'rules', RULE_TESTS);
    expect(test.output).toContain('SUCCESS');
    expect(test.status).toBe(0);
  });

  it.runIf(PROMTOOL !== undefined)('catches the masked lag: with the lowest report per partition the new owner’s growing lag would not fire', () => {
    // The lag alert as it was before the lag series were removed on revoke: min over the reports
    // of a partition, so a stale low value of the partition's former owner hid the real lag.
    const dir = mkdtempSync(join(tmpdir(), 'bitpredict-promtool-'));
    try {
      const rules = readFileSync(RULES, 'utf8');
      expect(rules).toContain('max by (group, topic, partition)');
      writeFileSync(join(dir, 'rules.yaml'), rules.replaceAll('max by (group, topic, partition)', 'min by (group, topic, partition)'));
      copyFileSync(RULE_TESTS, join(dir, 'rules.test.yaml'));
      const test = promtool('test', 'rules', join(dir, 'rules.test.yaml'));
      expect(test.status).not.toBe(0);
      expect(test.output).toContain('masked lag - a member still exporting a stale low value');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(PROMTOOL !== undefined)('promtool check/test rules skipped: promtool is not on PATH (apt-get install prometheus)', () => {
    // .ci/run installs it: in CI a missing promtool is a failure, never a silent skip.
    expect(process.env.CI, 'CI must check the alert rules: apt-get install prometheus (promtool)').toBeUndefined();
  });
});
