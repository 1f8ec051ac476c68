import { describe, expect, it } from 'vitest';
import { serialized } from './serialized.js';

describe('serialized', () => {
  it('runs calls one at a time in call order, and a failed call neither blocks nor fails the next', async () => {
    const log: string[] = [];
    let inFlight = 0;
    const send = serialized(async (name: string, ms: number, fail = false) => {
      inFlight++;
      expect(inFlight).toBe(1);
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      inFlight--;
      if (fail) throw new Error(`${name} failed`);
    });
    const results = await Promise.allSettled([send('a', 20), send('b', 1, true), send('c', 5)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });
});
