import { describe, expect, it } from 'vitest';
import { createKeyStore, KEY_ITEM, keyFromFragment, looksLikeKey } from './key.js';

const KEY = 'bpk_0123456789ab_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ-_';

describe('the API key', () => {
  it('is taken from the fragment (#key=...), encoded or not', () => {
    expect(keyFromFragment(`#key=${KEY}`)).toBe(KEY);
    expect(keyFromFragment(`#x=1&key=${encodeURIComponent(KEY)}`)).toBe(KEY);
    expect(keyFromFragment('#nokey')).toBeNull();
    expect(keyFromFragment('#key=%E0%A4%A')).toBeNull();
  });

  it('is told apart from other text pasted into the prompt', () => {
    expect(looksLikeKey(KEY)).toBe(true);
    for (const bad of ['', 'hunter2', 'bpk_', `${KEY} `, `Bearer ${KEY}`]) expect(looksLikeKey(bad), bad).toBe(false);
  });

  it('lives in session storage, and in memory when storage refuses', () => {
    const data = new Map<string, string>();
    const storage = {
      getItem: (k: string) => data.get(k) ?? null,
      setItem: (k: string, v: string) => void data.set(k, v),
      removeItem: (k: string) => void data.delete(k),
    };
    const keys = createKeyStore(storage);
    keys.set(KEY);
    expect(data.get(KEY_ITEM)).toBe(KEY);
    keys.clear();
    expect(keys.get()).toBeNull();
    const refusing = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
      removeItem: () => undefined,
    };
    const fallback = createKeyStore(refusing);
    fallback.set(KEY);
    expect(fallback.get()).toBe(KEY);
  });
});
