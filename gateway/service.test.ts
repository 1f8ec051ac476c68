// The subscribe snapshots the gateway reads from Redis, with fake sources: the predictions channel
// shows the board (every forecaster's latest) when the predictor writes one, else the headline
// prediction; the scores channel shows every latest live score.
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../core/errors.js';
import { loadConfig } from '../core/config.js';
import { createRedisWatch, gatewayReadiness, snapshotFrom } from './service.js';
import type { Prediction, Score } from '../schemas/types.js';

const headline = { symbol: 'BTCUSDT', modelName: 'lstm-attention' } as Prediction;
const board = [headline, { symbol: 'BTCUSDT', modelName: 'persistence' } as Prediction];
const scores = [{ symbol: 'BTCUSDT', modelName: 'garch' } as Score];

function sources(over: { board?: Prediction[]; latest?: Prediction | null; scoresFail?: boolean } = {}) {
  return {
    latestPrediction: () => Promise.resolve(over.latest === undefined ? headline : over.latest),
    predictionBoard: () => Promise.resolve(over.board ?? board),
    latestFeatures: () => Promise.resolve([]),
    latestCandles: () => Promise.resolve([]),
    latestScores: () => (over.scoresFail ? Promise.reject(new BitPredictError('ERR_REDIS', 'down')) : Promise.resolve(scores)),
  };
}

describe('gateway snapshots', () => {
  it('predictions: the board when there is one, else the latest prediction, else nothing', async () => {
    expect(await snapshotFrom(sources(), createRedisWatch())('predictions', 'BTCUSDT')).toEqual(board);
    expect(await snapshotFrom(sources({ board: [] }), createRedisWatch())('predictions', 'BTCUSDT')).toEqual([headline]);
    expect(await snapshotFrom(sources({ board: [], latest: null }), createRedisWatch())('predictions', 'BTCUSDT')).toEqual([]);
  });

  it('scores: every latest score; a failing store fails the snapshot and marks Redis unhealthy', async () => {
    const watch = createRedisWatch();
    expect(await snapshotFrom(sources(), watch)('scores', 'BTCUSDT')).toEqual(scores);
    expect(watch.ok).toBe(true);
    await expect(snapshotFrom(sources({ scoresFail: true }), watch)('scores', 'BTCUSDT')).rejects.toMatchObject({ code: 'ERR_REDIS' });
    expect(watch.ok).toBe(false);
  });
});

describe('gateway readiness', () => {
  const serving = { stopping: () => false, joined: () => true, redis: { ok: true } };
  const noChampion = { hasChampion: () => false, snapshot: () => ({ champion: null }) };
  const champion = { hasChampion: () => true, snapshot: () => ({ champion: { version: 'v7' } }) };

  it('a fresh cluster without a trained model is ready by default: the baselines serve, the missing champion is a warning', () => {
    const { gateway } = loadConfig({});
    const r = gatewayReadiness(gateway, { ...serving, models: noChampion })();
    expect(r.ready).toBe(true);
    expect(r.checks.model).toBe('baselines only (no champion yet)');
    expect(r.warnings).toEqual([expect.stringMatching(/no champion model .*baseline predictions/)]);
  });

  it('a champion clears the warning and is named', () => {
    const r = gatewayReadiness({ readyWithoutChampion: true }, { ...serving, models: champion })();
    expect(r).toMatchObject({ ready: true, checks: { model: 'champion v7' }, warnings: [] });
  });

  it('BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION=false keeps waiting for a champion', () => {
    const { gateway } = loadConfig({ BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'false' });
    const r = gatewayReadiness(gateway, { ...serving, models: noChampion })();
    expect(r.ready).toBe(false);
    expect(r.checks.model).toMatch(/no champion/);
  });

  it('not ready without the Kafka consumer, Redis, or during shutdown, champion or not', () => {
    const on = { readyWithoutChampion: true };
    expect(gatewayReadiness(on, { ...serving, joined: () => false, models: champion })().ready).toBe(false);
    expect(gatewayReadiness(on, { ...serving, redis: { ok: false }, models: champion })().ready).toBe(false);
    expect(gatewayReadiness(on, { ...serving, stopping: () => true, models: champion })().ready).toBe(false);
  });

  it('not ready while its consumer waits for a dependency (the registry, to decode), and says since when', () => {
    const since = Date.UTC(2026, 11, 7, 21, 0);
    const wait = { code: 'ERR_REGISTRY_UNREACHABLE' as const, since, partitions: ['bitpredict.predictions:0'] };
    const r = gatewayReadiness({ readyWithoutChampion: true }, { ...serving, dependencyWait: () => wait, models: champion })();
    expect(r.ready).toBe(false);
    expect(r.checks.dependency).toBe('waiting since 2026-12-07T21:00:00.000Z (ERR_REGISTRY_UNREACHABLE) on 1 partition(s)');
    expect(gatewayReadiness({ readyWithoutChampion: true }, { ...serving, dependencyWait: () => null, models: champion })().checks).not.toHaveProperty(
      'dependency',
    );
  });
});
