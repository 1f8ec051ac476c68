import { describe, expect, it } from 'vitest';
import { ARTIFACTS_TOPIC, KEEP_ALL_RETENTION, RETENTION_DAYS, parseRetentionOverrides, topicConfigDrift, topicConfigs, topicSpecs } from './topics.js';
import { TOPICS, type LogicalTopic } from '../../schemas/index.js';
import { loadConfig } from '../config.js';

const DAY = 86_400_000;

describe('topic retention table', () => {
  it('gives every data topic a finite retention and compacts the keyed state (models, model-artifacts)', () => {
    const specs = topicSpecs({ prefix: 'p.', partitions: 3, replicationFactor: 1 });
    expect(specs.map((s) => s.name)).toEqual([...(Object.keys(TOPICS) as LogicalTopic[]).map((l) => `p.${TOPICS[l].name}`), `p.${ARTIFACTS_TOPIC}`]);
    for (const s of specs) {
      if (s.name === 'p.models' || s.name === `p.${ARTIFACTS_TOPIC}`) {
        expect(s).toMatchObject({ partitions: 1, compacted: true, configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0' } });
        expect(s.configs?.['retention.ms']).toBeUndefined();
      } else {
        expect(s.configs?.['cleanup.policy']).toBe('delete');
        expect(Number(s.configs?.['retention.ms'])).toBeGreaterThan(0);
      }
    }
  });

  it("keeps the trainer's live window (train + validation days) in features and everything that rebuilds it", () => {
    const cfg = loadConfig({});
    const need = cfg.retrain.trainDays + cfg.retrain.valDays;
    for (const l of ['features', 'candles', 'textScored', 'textRaw'] as const) expect(RETENTION_DAYS[l]).toBeGreaterThan(need);
    // Raw topics keep longer than what is derived from them.
    expect(RETENTION_DAYS.candles).toBeGreaterThanOrEqual(RETENTION_DAYS.features);
    expect(RETENTION_DAYS.textRaw).toBeGreaterThanOrEqual(RETENTION_DAYS.textScored);
  });

  it('applies BITPREDICT_TOPIC_RETENTION_DAYS overrides, -1 keeping forever', () => {
    const specs = topicSpecs({ prefix: '', partitions: 1, replicationFactor: 1, retentionDays: 'market.candles=1825, predictions=-1' });
    const byName = new Map(specs.map((s) => [s.name, s.configs]));
    expect(byName.get('market.candles')?.['retention.ms']).toBe(String(1825 * DAY));
    expect(byName.get('predictions')?.['retention.ms']).toBe('-1');
    expect(byName.get('features')?.['retention.ms']).toBe(String(RETENTION_DAYS.features * DAY));
    expect(topicConfigs('features', parseRetentionOverrides(KEEP_ALL_RETENTION))['retention.ms']).toBe('-1');
  });

  it('refuses bad overrides with ERR_CONFIG_INVALID naming the key and the entry, and config validation lists them', () => {
    for (const [bad, why] of [
      ['market.candles', /is not topic=days/],
      ['market.candles=0', /is not topic=days/],
      ['market.candles=1.5', /is not topic=days/],
      ['market.candles=-2', /is not topic=days/],
      ['market.candles=99999999', /is not topic=days/],
      ['candles=30', /names no BitPredict topic/],
      ['models=30', /compacted topic/],
      ['features=30,features=40', /repeats a topic/],
    ] as const) {
      let caught: unknown;
      try {
        parseRetentionOverrides(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
      expect((caught as Error).message).toMatch(why);
      expect((caught as Error).message).toMatch(/^BITPREDICT_TOPIC_RETENTION_DAYS: /);
    }
    expect(() => loadConfig({ BITPREDICT_TOPIC_RETENTION_DAYS: 'models=30' })).toThrow(/BITPREDICT_TOPIC_RETENTION_DAYS/);
    expect(loadConfig({ BITPREDICT_TOPIC_RETENTION_DAYS: 'dlq=7' }).kafka.retentionDays).toBe('dlq=7');
  });

  it('reports the configs existing topics lack or hold differently, never missing topics', () => {
    const specs = topicSpecs({ prefix: '', partitions: 1, replicationFactor: 1 });
    const current = new Map<string, Record<string, string>>([
      ['market.candles', { 'cleanup.policy': 'delete', 'retention.ms': '-1' }],
      ['features', { ...topicConfigs('features') }],
      ['models', { 'cleanup.policy': 'delete' }],
    ]);
    expect(topicConfigDrift(specs, current)).toEqual([
      { topic: 'market.candles', key: 'retention.ms', want: String(RETENTION_DAYS.candles * DAY), have: '-1' },
      { topic: 'models', key: 'cleanup.policy', want: 'compact', have: 'delete' },
      { topic: 'models', key: 'min.compaction.lag.ms', want: '0', have: null },
    ]);
  });
});
