// Waiting that shutdown can cut short.

/**
 * Resolves after `ms`, or as soon as `signal` aborts (at once if it already has). It never
 * rejects: callers check the signal afterwards and stop their own way.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
