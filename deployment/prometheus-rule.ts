// deployment/kubernetes/base/prometheusrule.yaml is generated from deployment/prometheus/rules.yaml, the
// one source of the alerts (promtool checks and unit-tests that file). Regenerate after editing it:
//   npx tsx deployment/prometheus-rule.ts
// deployment.test.ts fails while the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';

const HEADER = [
  '# GENERATED from deployment/prometheus/rules.yaml by `npx tsx deployment/prometheus-rule.ts`: edit',
  '# rules.yaml (and its promtool tests), then regenerate. The prometheus-operator loads these rules',
  '# into the Prometheus that selects them; the `component` label the rules use is set by the',
  '# relabelings in monitoring.yaml, as prometheus.yaml does for a plain Prometheus.',
].join('\n');

/** The PrometheusRule object carrying the rule groups of a Prometheus rule file, unchanged. */
export function prometheusRule(rules: unknown): Record<string, unknown> {
  const groups = typeof rules === 'object' && rules !== null ? (rules as { groups?: unknown }).groups : undefined;
  if (!Array.isArray(groups) || groups.length === 0) throw new Error('rules.yaml: no groups');
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'bitpredict',
      namespace: 'bitpredict',
      labels: { 'app.kubernetes.io/name': 'bitpredict', 'app.kubernetes.io/part-of': 'bitpredict' },
    },
    spec: { groups },
  };
}

/** The file text written to deployment/kubernetes/base/prometheusrule.yaml. */
export function prometheusRuleFile(rulesYaml: string): string {
  return `${HEADER}\n${stringify(prometheusRule(parse(rulesYaml)), { lineWidth: 0 })}`;
}

function main(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const source = readFileSync(join(root, 'deployment', 'prometheus', 'rules.yaml'), 'utf8');
  writeFileSync(join(root, 'deployment', 'kubernetes', 'base', 'prometheusrule.yaml'), prometheusRuleFile(source));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
