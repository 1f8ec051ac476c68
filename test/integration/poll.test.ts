// The REST polling fallback against the real stack and a local mock of the histo API: closed
// candles only, each once (across overlapping polls and restarts), gaps kept, rate limits (429 +
// Retry-After, the HTTP-200 "rate limit" body) and 5xx backed off, malformed bodies and rows
// dead-lettered with sourceKind 'http'.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../helpers/platform.js';
import { fixtureRows, histoBody, pollFixture, startMockPoll, type MockPoll } from '../helpers/mock-poll.js';
import { createProducer } from '../../core/kafka/producer.js';
import type { Producer } from '../../core/kafka/producer.js';
import { createPollService, type PollService, type PollServiceDeps } from '../../producers/poll/service.js';

const M = 60_000;
const T0 = Date.UTC(2024, 2, 1);
const minutes = fixtureRows('histominute-success.json');

describe('REST poll fallback', () => {
  let tp: TestPlatform;
  let mock: MockPoll;
  let producer: Producer;
  let clock = T0;
  const services: PollService[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('poll', { BITPREDICT_RECONNECT_BASE_MS: '40', BITPREDICT_RECONNECT_MAX_MS: '1000' });
    mock = await startMockPoll();
    producer = await createProducer(tp.platform.kafka);
  });
  afterAll(async () => {
    for (const s of services) await s.stop();
    await producer?.close();
    await mock?.close();
    await tp?.cleanup();
  });

  function service(symbol: string, over: Partial<PollServiceDeps> = {}): PollService {
    const s = createPollService({
      platform: tp.platform,
      config: tp.config,
      producer,
      symbols: [symbol],
      intervals: ['1m'],
      baseUrl: mock.url,
      periodMs: 60_000,
      now: () => clock,
      random: () => 0,
      ...over,
    });
    services.push(s);
    return s;
  }

  async function candles(key: string): Promise<{ openTime: number; close: number; timestamp: number; exchange: string }[]> {
    return (await tp.readAll('candles'))
      .filter((r) => r.key === key)
      .map((r) => ({ openTime: r.value?.openTime ?? NaN, close: r.value?.close ?? NaN, timestamp: r.timestamp, exchange: r.value?.exchange ?? '' }));
  }

  it('publishes closed candles once across overlapping polls and a restart, never the in-progress one', async () => {
    clock = T0 + 6 * M + 30_000;
    mock.push({ body: pollFixture('histominute-success.json') });
    const a = service('BTCUSDT');
    expect(await a.pollOnce()).toEqual([{ key: 'BTCUSDT:1m', outcome: 'ok', published: 6, deadLettered: 0, retryInMs: 0 }]);
    const first = mock.requests.at(-1);
    expect(first?.path).toBe('/data/v2/histominute');
    expect(Object.fromEntries(first?.query ?? [])).toEqual({ fsym: 'BTC', tsym: 'USDT', limit: '60' });

    // Next minute: the API repeats the recent rows, minute 6 has closed and minute 7 is open.
    clock = T0 + 7 * M + 5_000;
    const minute7 = { ...minutes[6], time: (T0 + 7 * M) / 1000 };
    mock.push({ body: histoBody([...minutes.slice(3), minute7]) });
    expect((await a.pollOnce())[0]).toMatchObject({ outcome: 'ok', published: 1 });
    expect(mock.requests.at(-1)?.query.get('limit')).toBe('4');

    // A restarted poller learns the last candle from the topic and republishes nothing.
    const b = service('BTCUSDT');
    mock.push({ body: histoBody([...minutes.slice(3), minute7]) });
    expect((await b.pollOnce())[0]).toMatchObject({ outcome: 'ok', published: 0 });
    expect(b.lastOpenTimes().get('BTCUSDT:1m')).toBe(T0 + 6 * M);

    const got = await candles('BTCUSDT:1m');
    expect(got.map((c) => c.openTime)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => T0 + i * M));
    expect(got.map((c) => c.timestamp)).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => T0 + i * M));
    expect(got.map((c) => c.close)).toEqual(minutes.map((m) => m.close));
    expect(new Set(got.map((c) => c.exchange))).toEqual(new Set(['cryptocompare']));
  });

  it('keeps a gap in the source as a gap', async () => {
    clock = T0 + 6 * M + 30_000;
    mock.push({ body: histoBody(minutes.filter((_, i) => i !== 2 && i !== 3)) });
    expect((await service('ETHUSDT').pollOnce())[0]).toMatchObject({ outcome: 'ok', published: 4 });
    expect((await candles('ETHUSDT:1m')).map((c) => c.openTime)).toEqual([0, 1, 4, 5].map((i) => T0 + i * M));
  });

  it('honours 429 + Retry-After and the rate-limit error body, then recovers', async () => {
    clock = T0 + 6 * M + 30_000;
    const s = service('SOLUSDT');
    mock.push({ status: 429, headers: { 'retry-after': '3' }, body: '{"Response":"Error","Message":"rate limit"}' });
    const limited = (await s.pollOnce())[0];
    expect(limited).toMatchObject({ outcome: 'rate-limited', published: 0 });
    expect(limited?.retryInMs).toBeGreaterThanOrEqual(3000);
    const before = mock.requests.length;
    expect(await s.pollOnce()).toEqual([]);
    expect(mock.requests.length).toBe(before);
    expect(s.readiness().checks['poll SOLUSDT:1m']).toMatch(/backing off after 1 failure/);

    const t = createPollService({
      platform: tp.platform,
      config: tp.config,
      producer,
      symbols: ['ADAUSDT'],
      intervals: ['1m'],
      baseUrl: mock.url,
      now: () => clock,
      random: () => 0,
    });
    services.push(t);
    mock.push({ body: pollFixture('rate-limit-error.json') }, { body: pollFixture('histominute-success.json') });
    const bodyLimited = (await t.pollOnce())[0];
    expect(bodyLimited).toMatchObject({ outcome: 'rate-limited', retryInMs: 40 });
    await waitFor(async () => ((await t.pollOnce())[0]?.outcome ?? 'not due') === 'ok', 'the poll after the rate-limit delay');
    expect(t.readiness().checks['poll ADAUSDT:1m']).toBe('ok');
    expect(await candles('ADAUSDT:1m')).toHaveLength(6);
  });

  it('backs off exponentially on 5xx and network-level failures', async () => {
    clock = T0 + 6 * M + 30_000;
    const s = service('XRPUSDT');
    mock.push(
      { status: 502, body: '<html>Bad Gateway</html>' },
      { status: 503, body: '' },
      { status: 500, body: 'oops' },
      { body: pollFixture('histominute-success.json') },
    );
    const delays: number[] = [];
    for (;;) {
      const r = (await s.pollOnce())[0];
      if (r === undefined) {
        await new Promise((res) => setTimeout(res, 10));
        continue;
      }
      if (r.outcome === 'ok') break;
      expect(r.outcome).toBe('server-error');
      delays.push(r.retryInMs);
    }
    expect(delays).toEqual([40, 80, 160]);
    expect(await candles('XRPUSDT:1m')).toHaveLength(6);

    const dead = service('DOTUSDT', { baseUrl: 'http://127.0.0.1:1' });
    expect((await dead.pollOnce())[0]).toMatchObject({ outcome: 'network-error', retryInMs: 40 });
  });

  it('dead-letters a malformed body and malformed rows, publishing the good rows', async () => {
    clock = T0 + 6 * M + 30_000;
    const s = service('LTCUSDT');
    const truncated = pollFixture('histominute-success.json').slice(0, 300);
    mock.push({ body: truncated });
    expect((await s.pollOnce())[0]).toMatchObject({ outcome: 'malformed', deadLettered: 1, retryInMs: 40 });

    const rows: unknown[] = [...minutes];
    rows[1] = { ...minutes[1], close: 'NaN' };
    rows[2] = { ...minutes[2], low: (minutes[2]?.high ?? 0) + 1 };
    mock.push({ body: histoBody(rows) });
    await waitFor(async () => ((await s.pollOnce())[0]?.outcome ?? 'not due') === 'ok', 'the poll after the malformed body');
    expect((await candles('LTCUSDT:1m')).map((c) => c.openTime)).toEqual([0, 3, 4, 5].map((i) => T0 + i * M));

    const dlq = (await tp.readAll('dlq')).filter((d) => d.value?.source.startsWith(mock.url) && d.value.source.includes('fsym=LTC'));
    expect(dlq.map((d) => [d.value?.sourceKind, d.value?.offset, d.value?.errorCode])).toEqual([
      ['http', null, 'ERR_MALFORMED_INPUT'],
      ['http', 1, 'ERR_VALIDATION'],
      ['http', 2, 'ERR_VALIDATION'],
    ]);
    expect(dlq[0]?.value?.value?.toString()).toBe(truncated);
    expect(dlq[0]?.value?.errorMessage).toMatch(/not JSON/);
    expect(dlq[1]?.value?.errorMessage).toMatch(/close is not a finite number/);
    expect(dlq[2]?.value?.errorMessage).toMatch(/high .* < low/);
  });

  it('runs as a service: polls every period until stopped', async () => {
    clock = T0 + 6 * M + 30_000;
    mock.setFallback({ body: pollFixture('histominute-success.json') });
    const s = service('BNBUSDT', { periodMs: 100 });
    await s.start();
    expect(s.readiness().ready).toBe(true);
    await waitFor(async () => (await candles('BNBUSDT:1m')).length === 6, 'the first poll of the service');
    const seen = mock.requests.length;
    clock = T0 + 7 * M + 5_000;
    mock.setFallback({ body: histoBody([...minutes.slice(3), { ...minutes[6], time: (T0 + 7 * M) / 1000 }]) });
    await waitFor(async () => (await candles('BNBUSDT:1m')).length === 7, 'the next closed minute');
    expect(mock.requests.length).toBeGreaterThan(seen);
    await s.stop();
    expect(s.readiness().ready).toBe(false);
    expect((await candles('BNBUSDT:1m')).map((c) => c.openTime)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => T0 + i * M));
  });

  it('refuses symbols and intervals the API cannot serve', () => {
    expect(() => service('FOO')).toThrowError(/cannot split symbol/);
    expect(() => service('BTCUSDT', { intervals: ['5m'] })).toThrowError(/not served/);
  });
});
