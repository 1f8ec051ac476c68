import { describe, expect, it } from 'vitest';
import { createLogger } from '../core/logger.js';
import { createScoreFlusher, scoreField, windowLabel, type ScorePublisher } from './scores.js';
import type { Score } from '../schemas/types.js';

const DAY = 86_400_000;
const logger = createLogger({ level: 'silent', name: 'scores-test' });

const score = (over: Partial<Score> = {}): Score => ({
  symbol: 'BTCUSDT',
  interval: '1h',
  modelName: 'garch',
  modelVersion: 'b1',
  isBaseline: true,
  horizonSteps: 4,
  windowMs: 7 * DAY,
  eventTime: 1,
  samples: 10,
  missing: 0,
  pinballLoss: 0.001,
  scaleLoss: null,
  meanSquaredError: null,
  brierScore: null,
  coverage: [],
  skillVsPersistence: null,
  skillVsBestBaseline: null,
  bestBaseline: null,
  computedAt: 0,
  ...over,
});

describe('score publishing', () => {
  it('names hash fields and window labels', () => {
    expect(scoreField(score())).toBe('1h|garch|4|604800000');
    expect([DAY, 7 * DAY, 30 * DAY, 3_600_000, 1500].map(windowLabel)).toEqual(['24h', '7d', '30d', '1h', '1500ms']);
  });

  it('publishes what changed with the flush time, and keeps a failed batch for the next flush (newest wins)', async () => {
    const sent: Score[][] = [];
    let fail = true;
    const publisher: ScorePublisher = {
      publish: (s) => {
        if (fail) return Promise.reject(new Error('broker down'));
        sent.push(s);
        return Promise.resolve();
      },
    };
    let queue: Score[] = [score({ eventTime: 1 }), score({ modelName: 'ewma', eventTime: 1 })];
    let clock = 100;
    const flusher = createScoreFlusher({
      take: (at) => {
        const out = queue.map((s) => ({ ...s, computedAt: at }));
        queue = [];
        return out;
      },
      publisher,
      now: () => clock,
      logger,
    });
    await flusher.flush();
    expect(flusher.carried).toBe(2);
    fail = false;
    clock = 200;
    queue = [score({ eventTime: 2 })]; // a newer garch score replaces the kept one
    await flusher.flush();
    expect(flusher.carried).toBe(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.map((s) => [s.modelName, s.eventTime, s.computedAt]).sort()).toEqual([
      ['ewma', 1, 100],
      ['garch', 2, 200],
    ]);
    await flusher.flush(); // nothing changed: nothing sent
    expect(sent).toHaveLength(1);
  });

  it('runs one flush at a time', async () => {
    let release: () => void = () => undefined;
    let calls = 0;
    const publisher: ScorePublisher = {
      publish: () => {
        calls++;
        return new Promise<void>((r) => (release = r));
      },
    };
    let queue = [score()];
    const flusher = createScoreFlusher({ take: () => queue.splice(0), publisher, now: () => 0, logger });
    const a = flusher.flush();
    queue = [score({ modelName: 'ewma' })];
    const b = flusher.flush();
    expect(b).toBe(a);
    release();
    await a;
    expect(calls).toBe(1);
  });
});
