// REST GETs for gap fill. 429 (honouring Retry-After) and 5xx and network failures are retried
// with jittered backoff until they succeed or the service stops: giving up would leave a hole in
// market.candles that nothing fills later, while waiting only delays the live candles queued
// behind the fill. Other 4xx answers are not retried: they are returned as failures to dead-letter.
import type { Logger } from '../../core/logger.js';
import type { Counter } from '../../core/metrics.js';
import { backoffDelay } from './domain/backoff.js';
import { retryAfterMs } from '../../core/domain/http.js';

export type RestResult = { ok: true; body: unknown } | { ok: false; status: number; reason: string; raw: Buffer | null };

export interface RestDeps {
  logger: Logger;
  errors: Counter<'exchange' | 'status'>;
  exchange: string;
  baseMs: number;
  maxMs: number;
  random: () => number;
  signal: AbortSignal;
  /** Per-request deadline, so a server that accepts and never answers cannot stall the fill. */
  timeoutMs?: number;
}

export class Aborted extends Error {}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new Aborted('stopped'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Aborted('stopped'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function getJson(url: string, deps: RestDeps): Promise<RestResult> {
  for (let attempt = 0; ; attempt++) {
    if (deps.signal.aborted) throw new Aborted('stopped');
    let wait = backoffDelay(attempt, deps.baseMs, deps.maxMs, deps.random);
    try {
      const res = await fetch(url, {
        signal: AbortSignal.any([deps.signal, AbortSignal.timeout(deps.timeoutMs ?? 15_000)]),
        headers: { accept: 'application/json' },
      });
      const raw = Buffer.from(await res.arrayBuffer());
      if (res.ok) {
        try {
          return { ok: true, body: JSON.parse(raw.toString('utf8')) as unknown };
        } catch {
          return { ok: false, status: res.status, reason: 'response body is not valid JSON', raw };
        }
      }
      deps.errors.inc({ exchange: deps.exchange, status: String(res.status) });
      if (res.status !== 429 && res.status < 500) {
        return { ok: false, status: res.status, reason: `HTTP ${res.status}: ${raw.toString('utf8').slice(0, 200)}`, raw };
      }
      const asked = res.status === 429 ? retryAfterMs(res.headers.get('retry-after'), Date.now()) : null;
      if (asked !== null) wait = Math.min(asked, deps.maxMs);
      deps.logger.warn({ exchange: deps.exchange, status: res.status, attempt, waitMs: wait }, 'REST request refused; retrying');
    } catch (err) {
      if (deps.signal.aborted) throw new Aborted('stopped');
      deps.errors.inc({ exchange: deps.exchange, status: 'network' });
      deps.logger.warn({ exchange: deps.exchange, err, attempt, waitMs: wait }, 'REST request failed; retrying');
    }
    await sleep(wait, deps.signal);
  }
}
