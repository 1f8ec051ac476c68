// The subscribe snapshots the gateway reads from Redis, with fake sources: the predictions channel
// shows the board (every forecaster's latest) when the predictor writes one, else the headline
// prediction; the scores channel shows every latest live score.
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../core/errors.js';
import { createRedisWatch, snapshotFrom } from './service.js';
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
