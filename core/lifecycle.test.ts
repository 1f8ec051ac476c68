import { describe, expect, it } from 'vitest';
import { createLifecycle } from './lifecycle.js';
import { createLogger } from './logger.js';

const logger = createLogger({ level: 'silent' });

describe('lifecycle', () => {
  it('runs shutdown steps once, in reverse registration order, and drops readiness first', async () => {
    const lc = createLifecycle({ logger, timeoutMs: 1000 });
    const order: string[] = [];
    lc.onShutdown('close redis', () => void order.push(`redis ready=${lc.ready}`));
    lc.onShutdown('stop consumer', async () => {
      await new Promise((r) => setTimeout(r, 5));
      order.push('consumer');
    });
    lc.setReady(true);
    expect(lc.ready).toBe(true);
    const [a, b] = await Promise.all([lc.shutdown('test'), lc.shutdown('again')]);
    expect(a).toBe(true);
    expect(b).toBe(true);
    expect(order).toEqual(['consumer', 'redis ready=false']);
    expect(await lc.done).toBe(true);
    lc.setReady(true);
    expect(lc.ready).toBe(false);
  });

  it('keeps going after a failing step and reports failure', async () => {
    const lc = createLifecycle({ logger, timeoutMs: 1000 });
    const order: string[] = [];
    lc.onShutdown('last', () => void order.push('last'));
    lc.onShutdown('fails', () => {
      throw new Error('nope');
    });
    expect(await lc.shutdown('test')).toBe(false);
    expect(order).toEqual(['last']);
  });

  it('stops at the deadline instead of hanging on a stuck step', async () => {
    const lc = createLifecycle({ logger, timeoutMs: 50 });
    const order: string[] = [];
    lc.onShutdown('never reached', () => void order.push('late'));
    lc.onShutdown('stuck', () => new Promise<void>(() => {}));
    expect(await lc.shutdown('test')).toBe(false);
    expect(order).toEqual([]);
  });
});
