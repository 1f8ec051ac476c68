import { describe, expect, it } from 'vitest';
import { availableBackends, loadTf } from './tf.js';

describe('loadTf', () => {
  it('picks tensorflow or wasm (never cpu while wasm loads), caches, and can switch backend', async () => {
    const a = await loadTf();
    expect(['tensorflow', 'wasm']).toContain(a.backend);
    expect(a.tf.getBackend()).toBe(a.backend);
    expect(await loadTf()).toBe(a);
    const cpu = await loadTf('cpu');
    expect(cpu.backend).toBe('cpu');
    expect(cpu.tf.getBackend()).toBe('cpu');
    const all = await availableBackends();
    expect(all).toEqual(expect.arrayContaining(['wasm', 'cpu']));
    if (!all.includes('tensorflow')) await expect(loadTf('tensorflow')).rejects.toThrow(/backend 'tensorflow' could not be loaded/);
    const back = await loadTf('wasm');
    expect(back.tf.tidy(() => back.tf.tensor([1, 2]).add(1).arraySync())).toEqual([2, 3]);
  });
});
