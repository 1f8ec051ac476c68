// Which metric names the alert rules and Grafana dashboards query, and whether a running service
// exports each of them. A query of a name nobody exports is not an error to Prometheus or Grafana:
// the panel is just empty and the alert never fires, so this is checked by tests instead
// (deployment/deployment.test.ts for the parsing, test/integration/exported-metrics.test.ts
// against the /metrics of services started on the real stack).

/** Prometheus' own per-target series: they exist for every scrape target, no service exports them. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_series_added', 'ALERTS', 'ALERTS_FOR_STATE']);

/**
 * Series of exporters deployed beside BitPredict, not exported by any BitPredict process: their
 * names as documented by the exporter, so a query of a misspelt one is still reported. kafka-exporter
 * (danielqsj/kafka-exporter v1.9.0, README "Metrics"; Strimzi's `kafkaExporter` runs the same
 * exporter) reads consumer-group offsets from the brokers (docs/operations.md, "Broker-side lag").
 */
export const EXTERNAL_SERIES: Readonly<Record<string, ReadonlySet<string>>> = {
  'kafka-exporter': new Set([
    'kafka_brokers',
    'kafka_broker_info',
    'kafka_topic_partitions',
    'kafka_topic_partition_current_offset',
    'kafka_topic_partition_oldest_offset',
    'kafka_topic_partition_in_sync_replica',
    'kafka_topic_partition_leader',
    'kafka_topic_partition_leader_is_preferred',
    'kafka_topic_partition_replicas',
    'kafka_topic_partition_under_replicated_partition',
    'kafka_consumergroup_current_offset',
    'kafka_consumergroup_current_offset_sum',
    'kafka_consumergroup_lag',
    'kafka_consumergroup_lag_sum',
    'kafka_consumergroup_members',
  ]),
};

/** The exporter documenting a series name, if it is one of EXTERNAL_SERIES. */
export function externalSource(name: string): string | undefined {
  return Object.entries(EXTERNAL_SERIES).find(([, names]) => names.has(name))?.[0];
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
  'start',
  'end',
  'atan2',
]);

export interface Query {
  /** Where the query is written, for messages: `rules.yaml BitPredictDeadLetters`, `<dashboard> panel "<title>"`. */
  where: string;
  expr: string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Every alert and recording rule expression of a Prometheus rule file. */
export function ruleQueries(doc: unknown, file: string): Query[] {
  return arr(obj(doc).groups).flatMap((g) =>
    arr(obj(g).rules).map((r) => ({ where: `${file} ${str(obj(r).alert) || str(obj(r).record)}`, expr: str(obj(r).expr) })),
  );
}

/** Every target expression of every panel of a Grafana dashboard, panels nested in rows included. */
export function dashboardQueries(doc: unknown, file: string): Query[] {
  const out: Query[] = [];
  const visit = (panels: unknown[]): void => {
    for (const raw of panels) {
      const p = obj(raw);
      for (const t of arr(p.targets)) out.push({ where: `${file} panel "${str(p.title)}"`, expr: str(obj(t).expr) });
      visit(arr(p.panels));
    }
  };
  visit(arr(obj(doc).panels));
  return out;
}

/**
 * The metric names a PromQL expression selects. A small scanner, not a parser: it drops strings,
 * label matchers `{...}`, ranges and subqueries `[...]`, Grafana variables, grouping label lists
 * (`by (...)`, `on (...)`, ...) and function names, and keeps the remaining identifiers.
 */
export function metricNamesIn(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/#[^\n]*/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{?\w+(?::\w+)?\}?/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of s.matchAll(/(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = m[0];
    // A name followed by `(` is a function (or an aggregation: `sum (`).
    const isCall = /^\s*\(/.test(s.slice(m.index + name.length));
    if (!isCall && !KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names].sort();
}

/**
 * The sample names a Prometheus text exposition holds, from its `# TYPE` lines: a histogram is
 * queried as `_bucket`, `_sum` and `_count`, a summary as itself, `_sum` and `_count`. A labelled
 * metric that has not been observed yet still has its TYPE line (prom-client writes it), so its
 * name counts as exported.
 */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const n of [name, `${name}_sum`, `${name}_count`]) names.add(n);
    else names.add(name);
  }
  return names;
}

/**
 * `where: name` for each metric that a query selects and no exposition exports. Prometheus' own
 * series and the documented series of an external exporter (EXTERNAL_SERIES) are not expected in
 * BitPredict's expositions; a name in both is reported by externalNamesExported.
 */
export function unexportedMetrics(queries: Query[], exported: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (const q of queries) {
    if (!q.expr.trim()) {
      problems.push(`${q.where}: empty query`);
      continue;
    }
    for (const name of metricNamesIn(q.expr)) {
      if (!exported.has(name) && !PROMETHEUS_SERIES.has(name) && externalSource(name) === undefined) problems.push(`${q.where}: ${name}`);
    }
  }
  return problems;
}

/** External exporters' names that a BitPredict exposition also exports: a clash, never expected. */
export function externalNamesExported(exported: ReadonlySet<string>): string[] {
  return [...exported].filter((n) => externalSource(n) !== undefined).sort();
}
