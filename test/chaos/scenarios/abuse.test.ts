// Abuse of a real gateway process (`bitpredict gateway`, API keys on) by one read key:
//  1. 10,000 subscribe/unsubscribe cycles, each on a symbol never seen before (2,000 at CI scale);
//  2. 1,000 WebSocket connections at once from that one key (300 at CI scale);
//  3. a slow reader on each of several channels (a socket that never reads) while large predictions
//     are pushed to them, beside a fast reader per channel.
// What must hold (issue 17): the gateway's memory stays bounded and it keeps serving. The bounds:
// the gateway's RSS grows by less than GROWTH_BOUND_MB over its idle figure, and the channels it
// holds (bitpredict_gateway_ws_channels) stay under the cap it reports (hello.limits.maxChannels)
// or, when it reports none, under CHANNEL_BOUND. Refusals are documented answers, not failures: a
// subscribe may be answered with an `error` (an unknown symbol, a cap), and a connection may be
// refused at the upgrade (HTTP 4xx/5xx) or closed right after it opened (a per-key cap). The fast
// readers must get every prediction exactly once, in seq order, while all of this goes on.
//
// On main before the gateway fixes of issue 17 (channels evicted and capped, connections capped
// per key and per address) the channel bound fails: every new symbol leaves a channel behind.
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../../helpers/platform.js';
import { connectWs, prediction, producePredictions, wsUrl, type TestWsClient } from '../../helpers/ws-client.js';
import { createProducer, type Producer } from '../../../core/kafka/producer.js';
import { createKeyStore } from '../../../gateway/auth/keys.js';
import type { Prediction } from '../../../schemas/types.js';
import { recordChaos } from '../report.js';
import { warmUpGateway } from '../helpers-b-gateway.js';
import { atScale, metricValue, startService, type ChaosProcess } from '../helpers-b-procs.js';

const CYCLES = atScale(2_000, 10_000);
const CYCLE_CONNECTIONS = 10;
const WINDOW = 50;
const CONNECTIONS = atScale(300, 1_000);
const SLOW_CHANNELS = atScale(4, 20);
const MESSAGES_PER_CHANNEL = 150;
/** Channels a gateway may hold when it reports no cap of its own. */
const CHANNEL_BOUND = 1_000;
/** RSS growth over the idle gateway the whole scenario may cause (MB). */
const GROWTH_BOUND_MB = 200;
/** Messages of about 45 KB (24 horizons x 99 quantiles), so a few hundred fill a stalled socket. */
const QUANTILES = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);

function bigPrediction(i: number, symbol: string): Prediction {
  const p = prediction(i, { symbol, modelVersion: 'abuse' });
  return {
    ...p,
    quantileLevels: QUANTILES,
    horizons: Array.from({ length: 24 }, (_, h) => ({
      horizonSteps: h + 1,
      targetTime: p.eventTime + (h + 1) * 3_600_000,
      mean: 0.0001 * h,
      scale: 0.01 + h / 1000,
      quantiles: QUANTILES.map((q) => (q - 0.5) * 0.1 + h / 3 + Math.random() / 1e6),
      probUp: 0.5,
      predictedPrice: 30_000 + h,
    })),
  };
}

describe('chaos: abuse of the gateway by one key', () => {
  let tp: TestPlatform;
  let producer: Producer;
  let gateway: ChaosProcess;
  let key = '';
  const clients: TestWsClient[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('chaos-abuse');
    producer = await createProducer(tp.platform.kafka);
    key = (await createKeyStore(tp.redis, tp.config.redis.keyPrefix).create('abuser', 'read')).key;
    gateway = await startService(tp, {
      command: 'gateway',
      env: {
        // One connection may cycle as fast as it can: the cap under test is the channels', not the rate's.
        BITPREDICT_GATEWAY_CLIENT_RATE: '100000',
        // The ring is bounded by design (ringSize x message size); a small one keeps the large
        // test messages from hiding the per-channel and per-connection cost being measured.
        BITPREDICT_GATEWAY_REPLAY_BUFFER: '64',
        BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true',
        // The slow-reader channels are symbols the gateway knows (configured); the cycles' symbols
        // are not, so each of those subscribes may be refused (unknown_symbol), a documented answer.
        BITPREDICT_MARKET_SYMBOLS: ['BTCUSDT', ...Array.from({ length: SLOW_CHANNELS }, (_, i) => `SLOW${i}`)].join(','),
        BITPREDICT_LOG_LEVEL: 'warn',
      },
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await gateway?.stop();
    await producer?.close();
    await tp?.cleanup();
  });

  const headers = (): Record<string, string> => ({ authorization: `Bearer ${key}` });

  async function open(): Promise<TestWsClient> {
    const c = await connectWs(wsUrl(gateway.url), { headers: headers() });
    clients.push(c);
    return c;
  }

  /** subscribe + unsubscribe on each symbol, WINDOW pairs in flight; counts the answers by type. */
  async function cycle(c: TestWsClient, symbols: string[], answers: Map<string, number>): Promise<void> {
    for (let i = 0; i < symbols.length; i += WINDOW) {
      const batch = symbols.slice(i, i + WINDOW);
      for (const s of batch) {
        c.send({ op: 'subscribe', channel: `predictions:${s}` });
        c.send({ op: 'unsubscribe', channel: `predictions:${s}` });
      }
      for (let n = 0; n < batch.length * 2; n++) {
        const m = await c.waitFor((x) => x.type === 'subscribed' || x.type === 'unsubscribed' || x.type === 'error', 'a cycle answer', 30_000);
        const label = m.type === 'error' ? `error ${String(m.code)}` : m.type;
        answers.set(label, (answers.get(label) ?? 0) + 1);
      }
    }
  }

  it('keeps memory and channels bounded and serves well-behaved readers in full', async () => {
    await warmUpGateway(tp, producer, gateway.url, headers());
    const idle = gateway.rssMb() ?? 0;
    const hello = await (await open()).next();
    const limits = (hello.limits ?? {}) as Record<string, unknown>;
    const cap = typeof limits.maxChannels === 'number' ? limits.maxChannels : CHANNEL_BOUND;

    // 1. Cycles on new symbols.
    const answers = new Map<string, number>();
    const perConnection = CYCLES / CYCLE_CONNECTIONS;
    await Promise.all(
      Array.from({ length: CYCLE_CONNECTIONS }, async (_, k) => {
        const c = await open();
        await c.next();
        const symbols = Array.from({ length: perConnection }, (_, i) => `AB${k}X${i}`);
        await cycle(c, symbols, answers);
        c.close();
      }),
    );
    const afterCycles = gateway.rssMb() ?? 0;
    const channelsAfterCycles = metricValue(await gateway.metrics(), 'bitpredict_gateway_ws_channels');

    // 2. Many connections from one key: each is answered (accepted with a hello, refused at the
    // upgrade, or closed right after opening); none hangs.
    const outcomes = new Map<string, number>();
    const count = (label: string): void => {
      outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
    };
    const held: TestWsClient[] = [];
    for (let i = 0; i < CONNECTIONS; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, CONNECTIONS - i) }, async () => {
          try {
            const c = await open();
            const first = await c.next(10_000).catch(() => null);
            if (first?.type === 'hello') held.push(c);
            else count(`closed ${String((await c.closed).code)}`);
          } catch (err) {
            const m = /HTTP (\d+)|(closed before it opened)|(did not open in time)/.exec(String(err));
            count(m?.[1] ? `refused ${m[1]}` : m?.[2] ? 'closed before open' : m?.[3] ? 'timeout' : String(err));
          }
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    for (const c of held) count(c.isClosed ? `closed ${String((await c.closed).code)}` : 'held open');
    const withConnections = gateway.rssMb() ?? 0;
    for (const c of held) c.close();
    // The key's connection count drops when the gateway sees each socket close, a moment after the
    // client's close: opening the next readers before that is refused by the very cap measured above
    // (seen once under load at full scale: the slow readers' upgrades answered 429).
    await waitFor(
      async () => metricValue(await gateway.metrics(), 'bitpredict_gateway_ws_clients') <= 1,
      'the gateway to release the connections held in step 2',
      30_000,
    );

    // 3. A slow reader and a fast reader on each channel; large predictions pushed to all of them.
    const channels = Array.from({ length: SLOW_CHANNELS }, (_, i) => `SLOW${i}`);
    const fast = new Map<string, TestWsClient>();
    for (const s of channels) {
      const slow = await open();
      slow.send({ op: 'subscribe', channel: `predictions:${s}` });
      await slow.waitFor((m) => m.type === 'subscribed' || m.type === 'error', 'the slow reader subscription');
      (slow.ws as unknown as { _socket: Socket })._socket.pause();
      const f = await open();
      f.send({ op: 'subscribe', channel: `predictions:${s}` });
      await f.waitFor((m) => m.type === 'subscribed', 'the fast reader subscription');
      fast.set(s, f);
    }
    const received = (f: TestWsClient): number => f.all.filter((m) => m.type === 'prediction').length;
    for (let i = 1; i <= MESSAGES_PER_CHANNEL; i += 10) {
      const n = Math.min(10, MESSAGES_PER_CHANNEL - i + 1);
      // One channel's ten at a time: about 200 KB of Avro, under the broker's request size limit.
      for (const s of channels)
        await producePredictions(
          tp,
          producer,
          Array.from({ length: n }, (_, j) => bigPrediction(i + j, s)),
        );
      // Paced by the fast readers (this process parses every message): they read what was sent
      // before more comes, so only the stalled sockets fall behind.
      await waitFor(() => [...fast.values()].every((f) => received(f) >= i + n - 1 || f.isClosed), `the fast readers to read ${i + n - 1}`, 60_000);
    }
    let lost = 0;
    let duplicated = 0;
    for (const [s, f] of fast) {
      expect(f.isClosed, `the fast reader of ${s} was closed`).toBe(false);
      const seqs = f.all.filter((m) => m.type === 'prediction').map((m) => m.seq ?? -1);
      const eventTimes = f.all.filter((m) => m.type === 'prediction').map((m) => (m.data as Prediction).eventTime);
      lost += MESSAGES_PER_CHANNEL - new Set(eventTimes).size;
      duplicated += eventTimes.length - new Set(eventTimes).size;
      expect(seqs, `seqs of ${s}`).toEqual(seqs.map((_, i) => (seqs[0] ?? 1) + i));
    }
    const metrics = await gateway.metrics();
    const tooSlow = metricValue(metrics, 'bitpredict_gateway_ws_server_closes_total', { reason: 'too_slow' });
    const channelsAtEnd = metricValue(metrics, 'bitpredict_gateway_ws_channels');
    const peak = gateway.peakRssMb();
    const alive = (await fetch(`${gateway.url}/healthz`)).status;

    const fmt = (m: Map<string, number>): string => [...m].map(([k, v]) => `${k} ${v}`).join(', ');
    recordChaos({
      scenario: 'abuse',
      fault: `${CYCLES} sub/unsub cycles on new symbols, ${CONNECTIONS} connections from one key, a slow reader on ${SLOW_CHANNELS} channels`,
      lost,
      duplicated,
      crashes: gateway.crashes(),
      recoveryMs: null,
      maxLag: null,
      peakMemoryMb: Math.round(peak),
      records: CYCLES * 2 + CONNECTIONS + SLOW_CHANNELS * MESSAGES_PER_CHANNEL,
      notes:
        `gateway RSS MB idle ${idle.toFixed(0)}, after cycles ${afterCycles.toFixed(0)}, with connections ${withConnections.toFixed(0)}, peak ${peak.toFixed(0)}; ` +
        `channels after cycles ${channelsAfterCycles} (cap ${cap}), at end ${channelsAtEnd}; cycle answers: ${fmt(answers)}; connections: ${fmt(outcomes)}; slow readers closed 4008: ${tooSlow}`,
    });

    expect(gateway.crashes(), gateway.output().slice(-3000)).toBe(0);
    expect(alive).toBe(200);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    // Every connection attempt got an answer: none hung until the client gave up.
    expect(outcomes.get('timeout') ?? 0).toBe(0);
    expect([...outcomes.keys()].filter((k) => !/^(held open|refused [45]\d\d|closed \d+|closed before open)$/.test(k))).toEqual([]);
    expect(peak - idle, `gateway RSS growth (MB) from ${idle.toFixed(0)}`).toBeLessThan(GROWTH_BOUND_MB);
    expect(channelsAfterCycles, `channels held after ${CYCLES} cycles on new symbols`).toBeLessThanOrEqual(cap);
  });
});
