import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { counter, createMetricsRegistry } from '../../core/metrics.js';
import { Aborted, getJson, type RestDeps } from './rest.js';

type Answer = { status: number; body: string; headers?: Record<string, string> };

describe('getJson (loopback server)', () => {
  let server: Server;
  let base = '';
  const answers: Answer[] = [];
  let hits = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      const a = answers.shift() ?? { status: 200, body: '[]' };
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(a.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const registry = createMetricsRegistry({ service: 'rest-test', defaultMetrics: false });
  const errors = counter(registry, 'bitpredict_marketdata_rest_errors_total', 'errors', ['exchange', 'status']);
  const deps = (signal = new AbortController().signal): RestDeps => ({
    logger: createLogger({ level: 'silent', name: 'rest-test' }),
    errors,
    exchange: 'binance',
    baseMs: 5,
    maxMs: 50,
    random: () => 1,
    signal,
  });
  const count = async (status: string): Promise<number> => (await errors.get()).values.find((v) => v.labels.status === status)?.value ?? 0;

  it('retries 429 (honouring a capped Retry-After) and 5xx, then returns the body', async () => {
    answers.push(
      { status: 429, body: '{"code":-1003}', headers: { 'retry-after': '3600' } },
      { status: 502, body: 'bad gateway' },
      { status: 200, body: '[[1,2]]' },
    );
    hits = 0;
    await expect(getJson(`${base}/x`, deps())).resolves.toEqual({ ok: true, body: [[1, 2]] });
    expect(hits).toBe(3);
    expect(await count('429')).toBe(1);
    expect(await count('502')).toBe(1);
  });

  it('does not retry other 4xx and reports unparsable bodies', async () => {
    answers.push({ status: 400, body: '{"code":-1121,"msg":"Invalid symbol."}' });
    const r = await getJson(`${base}/x`, deps());
    expect(r).toMatchObject({ ok: false, status: 400, reason: expect.stringContaining('Invalid symbol') as unknown });
    answers.push({ status: 200, body: '[[1,2' });
    expect(await getJson(`${base}/x`, deps())).toMatchObject({ ok: false, reason: 'response body is not valid JSON' });
  });

  it('stops retrying when aborted', async () => {
    const ctrl = new AbortController();
    for (let i = 0; i < 50; i++) answers.push({ status: 503, body: '' });
    const p = getJson(`${base}/x`, deps(ctrl.signal));
    setTimeout(() => ctrl.abort(), 30);
    await expect(p).rejects.toBeInstanceOf(Aborted);
    answers.length = 0;
  });

  it('retries network failures', async () => {
    const ctrl = new AbortController();
    const p = getJson('http://127.0.0.1:1/x', deps(ctrl.signal));
    setTimeout(() => ctrl.abort(), 100);
    await expect(p).rejects.toBeInstanceOf(Aborted);
    expect(await count('network')).toBeGreaterThanOrEqual(1);
  });
});
