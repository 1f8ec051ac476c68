import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../../metrics.js';
import { createRunnerMetrics } from './metrics.js';
import { tpKey } from './rebalance.js';

async function lagSeries(registry: ReturnType<typeof createMetricsRegistry>): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric('bitpredict_consumer_lag_records');
  if (!metric) return {};
  const { values } = await metric.get();
  return Object.fromEntries(values.map((v) => [`${String(v.labels.group)}/${String(v.labels.topic)}:${String(v.labels.partition)}`, v.value]));
}

describe('runner metrics: consumer lag', () => {
  it('removes the lag series of partitions that moved to another member, so a stale value cannot mask the new owner’s lag', async () => {
    const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const m = createRunnerMetrics(registry, 'g');
    m.owned(new Set([tpKey('t', 0), tpKey('t', 1)]));
    m.lag('t', 0, 5);
    m.lag('t', 1, 7);
    expect(await lagSeries(registry)).toEqual({ 'g/t:0': 5, 'g/t:1': 7 });

    // Rebalance: partition 1 moves away.
    m.owned(new Set([tpKey('t', 0)]));
    expect(await lagSeries(registry)).toEqual({ 'g/t:0': 5 });

    // A batch of the lost partition that ends after the revoke does not bring the series back.
    m.lag('t', 1, 3);
    expect(await lagSeries(registry)).toEqual({ 'g/t:0': 5 });

    // It comes back with the partition.
    m.owned(new Set([tpKey('t', 0), tpKey('t', 1)]));
    m.lag('t', 1, 9);
    expect(await lagSeries(registry)).toEqual({ 'g/t:0': 5, 'g/t:1': 9 });
  });

  it('removes all of the member’s lag series when it stops, and only its own group’s', async () => {
    const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const a = createRunnerMetrics(registry, 'a');
    const b = createRunnerMetrics(registry, 'b');
    a.owned(new Set([tpKey('t', 0)]));
    b.owned(new Set([tpKey('u', 0)]));
    a.lag('t', 0, 1);
    b.lag('u', 0, 2);
    a.stopped();
    expect(await lagSeries(registry)).toEqual({ 'b/u:0': 2 });
    a.lag('t', 0, 4);
    expect(await lagSeries(registry)).toEqual({ 'b/u:0': 2 });
  });

  it('keeps a partition that stays owned across a rebalance at its last value', async () => {
    const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const m = createRunnerMetrics(registry, 'g');
    m.owned(new Set([tpKey('t', 0)]));
    m.lag('t', 0, 11);
    m.owned(new Set([tpKey('t', 0), tpKey('t', 2)]));
    expect(await lagSeries(registry)).toEqual({ 'g/t:0': 11 });
  });
});
