import { describe, it, expect } from 'vitest';
import { BoundedSet } from './publish.js';

describe('BoundedSet', () => {
  it('forgets the oldest entries beyond its bound and ignores re-adds', () => {
    const s = new BoundedSet(3);
    for (const k of ['a', 'b', 'c', 'a', 'd']) s.add(k);
    expect(s.size).toBe(3);
    expect(s.has('a')).toBe(false);
    expect(['b', 'c', 'd'].every((k) => s.has(k))).toBe(true);
  });
});
