// Every metric that an alert rule or a Grafana panel queries is exported by a real run. The
// deployed long-running services (features, sentiment, predictor, gateway; deployment/kubernetes)
// are built as the CLI builds them (cli/services.ts), each with the registry runWorker gives it
// (createMetricsRegistry with the default process metrics), started on the real stack, and their
// /metrics scraped over HTTP: the workers' from the health server runWorker starts, the gateway's
// from its own port. A query of a name no service exports leaves a panel empty and an alert silent,
// which neither Prometheus nor Grafana reports.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import { createPlatform } from '../../core/runtime.js';
import { startHealthServer, type HealthServer } from '../../core/health.js';
import type { Service } from '../../core/service.js';
import { createFeatureProcessor } from '../../processors/features/service.js';
import { createPredictor } from '../../processors/predictor/service.js';
import { createSentimentProcessor } from '../../processors/sentiment/service.js';
import { createGateway, type GatewayService } from '../../gateway/service.js';
import { dashboardQueries, exportedNames, externalNamesExported, ruleQueries, unexportedMetrics, type Query } from '../../deployment/metric-names.js';
import { createTestPlatform, REPO_ROOT, waitFor, type TestPlatform } from '../helpers/platform.js';

const PROM_DIR = join(REPO_ROOT, 'deployment', 'prometheus');
const GRAFANA_DIR = join(REPO_ROOT, 'deployment', 'grafana');

function deployedQueries(): Query[] {
  const queries: Query[] = [];
  for (const f of readdirSync(PROM_DIR).filter((x) => /\.ya?ml$/.test(x) && !x.endsWith('.test.yaml') && x !== 'prometheus.yaml')) {
    queries.push(...ruleQueries(parse(readFileSync(join(PROM_DIR, f), 'utf8')), f));
  }
  for (const f of readdirSync(GRAFANA_DIR).filter((x) => x.endsWith('.json'))) {
    queries.push(...dashboardQueries(JSON.parse(readFileSync(join(GRAFANA_DIR, f), 'utf8')) as unknown, f));
  }
  return queries;
}

describe('metrics queried by the alert rules and dashboards', () => {
  let tp: TestPlatform;
  const services: Service[] = [];
  const health: HealthServer[] = [];
  /** Service name -> URL of its /metrics. */
  const scrapes = new Map<string, string>();
  const fatal: unknown[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('metrics', { BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true' });
    const onFatal = (e: unknown): void => {
      fatal.push(e);
    };
    const platformFor = (name: string): { registry: Registry; platform: ReturnType<typeof createPlatform> } => {
      const registry = createMetricsRegistry({ service: name });
      return { registry, platform: createPlatform({ config: tp.config, logger: tp.logger, registry, clientId: name }) };
    };
    const workers: [string, (p: ReturnType<typeof createPlatform>) => Promise<Service>][] = [
      ['features', (platform) => createFeatureProcessor({ platform, config: tp.config, redis: tp.redis, onFatal })],
      ['sentiment', (platform) => createSentimentProcessor({ platform, config: tp.config, onFatal })],
      ['predictor', (platform) => createPredictor({ platform, config: tp.config, redis: tp.redis, onFatal })],
    ];
    for (const [name, build] of workers) {
      const { registry, platform } = platformFor(name);
      const service = await build(platform);
      services.push(service);
      const server = await startHealthServer({ port: 0, host: '127.0.0.1', registry, readiness: () => service.readiness() });
      health.push(server);
      scrapes.set(name, `http://127.0.0.1:${server.port}/metrics`);
    }
    const { platform } = platformFor('gateway');
    const gateway: GatewayService = await createGateway({ platform, config: tp.config, redis: tp.redis, onFatal, host: '127.0.0.1', port: 0 });
    services.push(gateway);
    for (const s of services) await s.start();
    scrapes.set('gateway', `${gateway.url()}/metrics`);
    await waitFor(() => services.every((s) => s.readiness().ready), 'services to join their groups');
  }, 120_000);

  afterAll(async () => {
    for (const s of [...services].reverse()) await s.stop().catch(() => undefined);
    for (const h of health) await h.close();
    await tp?.cleanup();
  });

  it('exports every metric name that an alert expression or a dashboard panel queries', async () => {
    const exported = new Set<string>();
    for (const [name, url] of scrapes) {
      const res = await fetch(url);
      expect(res.status, `${name} ${url}`).toBe(200);
      for (const n of exportedNames(await res.text())) exported.add(n);
    }
    // The scrape is real: process metrics (with their doubled prefix) and the runner's lag gauge.
    expect(exported).toContain('bitpredict_process_process_resident_memory_bytes');
    expect(exported).toContain('bitpredict_consumer_lag_records');
    const queries = deployedQueries();
    expect(queries.length).toBeGreaterThan(5);
    expect(unexportedMetrics(queries, exported)).toEqual([]);
    // kafka-exporter's series (the broker-side lag alert) are external: no BitPredict service exports them.
    expect(externalNamesExported(exported)).toEqual([]);
    // The check sees a wrong name (the dashboard's former memory query).
    expect(unexportedMetrics([{ where: 'x', expr: 'sum(bitpredict_process_resident_memory_bytes)' }], exported)).toEqual([
      'x: bitpredict_process_resident_memory_bytes',
    ]);
    expect(fatal).toEqual([]);
  });
});
