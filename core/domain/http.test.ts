import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './http.js';

const T0 = Date.UTC(2026, 0, 1);

describe('retryAfterMs', () => {
  it('reads delta-seconds', () => {
    expect(retryAfterMs('0', T0)).toBe(0);
    expect(retryAfterMs('2', 0)).toBe(2000);
    expect(retryAfterMs('120', T0)).toBe(120_000);
  });

  it('reads HTTP dates, a past one meaning now', () => {
    expect(retryAfterMs(new Date(T0 + 3000).toUTCString(), T0)).toBe(3000);
    expect(retryAfterMs(new Date(T0 + 5000).toUTCString(), T0)).toBe(5000);
    expect(retryAfterMs(new Date(T0 - 5000).toUTCString(), T0)).toBe(0);
  });

  it('ignores an absent header and garbage', () => {
    expect(retryAfterMs(null, T0)).toBeNull();
    expect(retryAfterMs('soon', 0)).toBeNull();
    expect(retryAfterMs('never', T0)).toBeNull();
  });
});
