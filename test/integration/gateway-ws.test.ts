// The real gateway service (gateway/service.ts) against real Kafka and Redis, with real ws clients
// on loopback: protocol v2 conformance (hello, snapshot, seq, the three channel kinds), resume and
// gap, API keys and Origin on REST and on the upgrade, a slow consumer cut off while fast ones miss
// nothing, a seeded fuzz run, graceful shutdown and /readyz. The hub's own unit tests cover the
// protocol with fakes; these prove the wiring: Kafka record -> decode -> hub -> socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../helpers/platform.js';
import { candle, HOUR_MS } from '../helpers/candles.js';
import {
  closeOf,
  connectWs,
  counterValue,
  prediction,
  producePredictions,
  refusedUpgrade,
  startGateway,
  T0,
  warmUp,
  wsUrl,
  type ServerMessage,
  type StartedGateway,
  type TestWsClient,
} from '../helpers/ws-client.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { redisKeys } from '../../core/redis.js';
import { mulberry32 } from '../../core/random.js';
import { createKeyStore, parseKey } from '../../gateway/auth/keys.js';
import { featuresFromCandles } from '../../core/features/batch.js';
import type { Candle, ModelAnnouncement } from '../../schemas/types.js';

const CH = 'predictions:BTCUSDT';
/** A record's Kafka position in a message, and the gateway's cursor in subscribed (docs/websocket.md). */
const POS: unknown = [expect.any(Number), expect.any(Number)];
const CURSOR: unknown = expect.any(Object);

let tp: TestPlatform;
let producer: Producer;
const fatal: unknown[] = [];
const clients: TestWsClient[] = [];

async function client(url: string, headers: Record<string, string> = {}): Promise<TestWsClient> {
  const c = await connectWs(url, { headers });
  clients.push(c);
  return c;
}

const predictionsOf = (c: TestWsClient, channel = CH): ServerMessage[] => c.all.filter((m) => m.type === 'prediction' && m.channel === channel);

async function subscribe(c: TestWsClient, channel: string, extra: Record<string, unknown> = {}): Promise<ServerMessage> {
  c.send({ op: 'subscribe', channel, ...extra });
  return c.waitFor((m) => (m.type === 'subscribed' || m.type === 'error') && (m.channel === channel || m.type === 'error'), `subscribed to ${channel}`);
}

beforeAll(async () => {
  tp = await createTestPlatform('gwws');
  producer = await createProducer(tp.platform.kafka);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await producer?.close();
  await tp?.cleanup();
});

describe('one gateway, open mode: protocol, resume, slow consumer, fuzz, shutdown', () => {
  let g: StartedGateway;
  const snapshot = prediction(0, { modelVersion: 'snapshot' });

  beforeAll(async () => {
    await tp.redis.set(redisKeys(tp.config.redis.keyPrefix).predictionsLatest('BTCUSDT'), JSON.stringify(snapshot));
    g = await startGateway(tp, {
      label: 'gwws-main',
      fatal,
      captureLogs: true,
      overrides: {
        BITPREDICT_GATEWAY_AUTH: 'open',
        BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true',
        // 3: the resume test misses exactly 3 (all replayed), then 5 (a gap).
        BITPREDICT_GATEWAY_REPLAY_BUFFER: '3',
        BITPREDICT_WS_MAX_BUFFERED_BYTES: '65536',
        // SLOWUSDT is subscribed before any record of it exists: it must be configured.
        BITPREDICT_MARKET_SYMBOLS: 'BTCUSDT,SLOWUSDT',
      },
    });
    await warmUp(tp, producer, g.gateway);
  });

  afterAll(async () => {
    await g?.gateway.stop();
  });

  it('hello, subscribe with the Redis snapshot, and Kafka records on all three channel kinds with seq 1, 2, 3', async () => {
    const c = await client(wsUrl(g.gateway.url()));
    const hello = await c.next();
    expect(hello).toMatchObject({ type: 'hello', protocol: 2, epoch: g.gateway.hub.epoch });
    expect(typeof hello.epoch).toBe('string');
    expect((hello.epoch as string).length).toBeGreaterThan(0);

    const sub = await subscribe(c, CH, { id: 1 });
    expect(sub).toEqual({ type: 'subscribed', channel: CH, seq: 0, cursor: CURSOR, snapshot: [snapshot], id: 1 });

    const preds = [1, 2, 3].map((i) => prediction(i));
    await producePredictions(tp, producer, preds);
    for (let i = 0; i < 3; i++) {
      const m = await c.waitFor((x) => x.type === 'prediction', `prediction ${i + 1}`);
      expect(m).toEqual({ type: 'prediction', channel: CH, seq: i + 1, pos: POS, data: preds[i] });
    }

    // Features and candles: values built by the same code the processors use.
    const candles: Candle[] = Array.from({ length: 40 }, (_, i) => candle(T0 + i * HOUR_MS, 30_000 + 10 * i, { ingestedAt: T0 + i * HOUR_MS + HOUR_MS }));
    const feature = featuresFromCandles(candles, [], { windowMs: HOUR_MS }).at(-1);
    if (!feature) throw new Error('no feature vector from 40 candles');
    const lastCandle = candles.at(-1) as Candle;
    expect(await subscribe(c, 'features:BTCUSDT')).toMatchObject({ type: 'subscribed', seq: 0 });
    expect(await subscribe(c, 'candles:BTCUSDT')).toMatchObject({ type: 'subscribed', seq: 0 });
    await producer.send([
      { topic: tp.topic('features'), key: 'BTCUSDT:1h', value: tp.platform.serde.encode('features', feature), timestamp: Date.now() },
      { topic: tp.topic('candles'), key: 'BTCUSDT:1h', value: tp.platform.serde.encode('candles', lastCandle), timestamp: Date.now() },
    ]);
    // Two topics: the two may arrive in either order.
    const two = [await c.next(), await c.next()].sort((x, y) => x.type.localeCompare(y.type));
    expect(two).toEqual([
      { type: 'candle', channel: 'candles:BTCUSDT', seq: 1, pos: POS, data: lastCandle },
      { type: 'feature', channel: 'features:BTCUSDT', seq: 1, pos: POS, data: JSON.parse(JSON.stringify(feature)) as unknown },
    ]);

    // Unsubscribed channels go quiet; the others keep their sequence.
    c.send({ op: 'unsubscribe', channel: 'candles:BTCUSDT', id: 2 });
    expect(await c.next()).toEqual({ type: 'unsubscribed', channel: 'candles:BTCUSDT', id: 2 });
    // A witness still subscribed to candles shows when the gateway has fanned the candle out.
    const witness = await client(wsUrl(g.gateway.url()));
    await subscribe(witness, 'candles:BTCUSDT');
    const p4 = prediction(4);
    await producer.send([
      { topic: tp.topic('candles'), key: 'BTCUSDT:1h', value: tp.platform.serde.encode('candles', candle(T0 + 40 * HOUR_MS)), timestamp: Date.now() },
    ]);
    await producePredictions(tp, producer, [p4]);
    expect(await c.next()).toEqual({ type: 'prediction', channel: CH, seq: 4, pos: POS, data: p4 });
    expect(await witness.waitFor((m) => m.type === 'candle', 'the candle at the witness')).toMatchObject({ channel: 'candles:BTCUSDT', seq: 2 });
    c.send({ op: 'ping', id: 3 });
    expect(await c.next()).toEqual({ type: 'pong', id: 3 });
    expect(c.malformed).toEqual([]);
    c.close();
    witness.close();
  });

  it('resume replays exactly the missed seqs, then live ones; beyond the replay buffer a gap and a snapshot', async () => {
    const url = wsUrl(g.gateway.url());
    const watcher = await client(url);
    const w0 = (await subscribe(watcher, CH)).seq as number;
    const watchTo = (seq: number) => watcher.waitFor((m) => m.type === 'prediction' && m.seq === seq, `seq ${seq} at the watcher`);

    const reader = await client(url);
    const epoch = (await reader.next()).epoch as string;
    await subscribe(reader, CH);
    const first = [10, 11].map((i) => prediction(i));
    await producePredictions(tp, producer, first);
    const n = w0 + 2;
    await reader.waitFor((m) => m.type === 'prediction' && m.seq === n, `seq ${n}`);
    reader.close();
    await closeOf(reader, 'the reader to close');

    const missed = [12, 13, 14].map((i) => prediction(i));
    await producePredictions(tp, producer, missed);
    await watchTo(n + 3);

    const resumed = await client(url);
    await resumed.next();
    const sub = await subscribe(resumed, CH, { resume: { epoch, seq: n } });
    expect(sub).toMatchObject({ type: 'subscribed', channel: CH, seq: n, resumed: true, replayed: 3 });
    for (let i = 0; i < 3; i++) {
      const m = await resumed.waitFor((x) => x.type === 'prediction', `replayed ${n + i + 1}`);
      expect(m).toEqual({ type: 'prediction', channel: CH, seq: n + i + 1, pos: POS, data: missed[i] });
    }
    const live = prediction(15);
    await producePredictions(tp, producer, [live]);
    expect(await resumed.waitFor((x) => x.type === 'prediction', 'the live one')).toEqual({
      type: 'prediction',
      channel: CH,
      seq: n + 4,
      pos: POS,
      data: live,
    });
    expect(predictionsOf(resumed).map((m) => m.seq)).toEqual([n + 1, n + 2, n + 3, n + 4]);
    resumed.close();
    await closeOf(resumed, 'the resumed client to close');

    // Five missed with a replay buffer of 3: the client is told exactly which seqs it cannot have.
    await producePredictions(
      tp,
      producer,
      [16, 17, 18, 19, 20].map((i) => prediction(i)),
    );
    await watchTo(n + 9);
    const late = await client(url);
    await late.next();
    late.send({ op: 'subscribe', channel: CH, resume: { epoch, seq: n + 4 }, id: 'r' });
    const gap = await late.next();
    expect(gap).toMatchObject({ type: 'gap', channel: CH, reason: 'evicted', from: n + 5, to: n + 9, id: 'r' });
    const after = await late.next();
    expect(after).toEqual({ type: 'subscribed', channel: CH, seq: n + 9, cursor: CURSOR, snapshot: [snapshot], id: 'r' });
    const live2 = prediction(21);
    await producePredictions(tp, producer, [live2]);
    expect(await late.next()).toEqual({ type: 'prediction', channel: CH, seq: n + 10, pos: POS, data: live2 });
    expect(predictionsOf(late)).toHaveLength(1);
    for (const c of [watcher, late]) c.close();
  });

  it('cuts off a paused client with 4008 while three fast clients get every message in order', async () => {
    const channel = 'predictions:SLOWUSDT';
    const url = wsUrl(g.gateway.url());
    const slow = await client(url);
    const fast = [await client(url), await client(url), await client(url)];
    const base: number[] = [];
    for (const c of [slow, ...fast]) base.push((await subscribe(c, channel)).seq as number);
    const tooSlow = (): Promise<number> => counterValue(g.registry, 'bitpredict_gateway_ws_server_closes_total', { reason: 'too_slow' });
    const cutBefore = await tooSlow();
    (slow.ws as unknown as { _socket: Socket })._socket.pause();

    // Messages of ~8 KB in batches of 7 (< 64 KiB); before each batch the fast clients have read
    // everything, so their send buffers start empty and never reach the limit, while the slow
    // one's kernel buffers fill and then its send buffer grows until the hub cuts it off.
    const pad = 'x'.repeat(8000);
    let published = 0;
    const caughtUp = async (): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!fast.every((c) => predictionsOf(c, channel).length === published)) {
        if (Date.now() > deadline)
          throw new Error(`fast clients did not catch up with ${published} messages: ${fast.map((c) => predictionsOf(c, channel).length).join(', ')}`);
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    for (let batch = 0; batch < 3000 && (await tooSlow()) === cutBefore; batch++) {
      for (let i = 0; i < 7; i++) {
        published++;
        g.gateway.hub.publish('predictions', prediction(published, { symbol: 'SLOWUSDT', modelVersion: pad }));
      }
      await caughtUp();
    }
    expect(await tooSlow(), 'the slow client was never cut off').toBe(cutBefore + 1);
    // A few more after the cut: the fast ones keep receiving.
    for (let i = 0; i < 5; i++) {
      published++;
      g.gateway.hub.publish('predictions', prediction(published, { symbol: 'SLOWUSDT' }));
    }
    await caughtUp();

    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    const close = await closeOf(slow, 'the slow client to be closed');
    expect(close.code).toBe(4008);
    // What the slow one did get has no hole either.
    const slowSeqs = predictionsOf(slow, channel).map((m) => m.seq);
    expect(slowSeqs).toEqual(slowSeqs.map((_, i) => (base[0] as number) + 1 + i));
    expect(slowSeqs.length).toBeLessThan(published);
    fast.forEach((c, k) => {
      const seqs = predictionsOf(c, channel).map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: published }, (_, i) => (base[k + 1] as number) + 1 + i));
      expect(c.isClosed).toBe(false);
    });
    for (const c of fast) c.close();
  });

  it('survives seeded random and malformed frames, then still serves', async () => {
    const seed = Number(process.env.BITPREDICT_FUZZ_SEED ?? Date.now() % 2 ** 31);
    process.stderr.write(`gateway fuzz seed ${seed} (rerun with BITPREDICT_FUZZ_SEED=${seed})\n`);
    const rnd = mulberry32(seed);
    const int = (n: number): number => Math.floor(rnd() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
    const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
    const str = (n: number): string => String.fromCharCode(...Array.from({ length: n }, () => 32 + int(0x2000)));
    const url = wsUrl(g.gateway.url());
    const epoch = g.gateway.hub.epoch;

    const randomOp = (): Record<string, unknown> => {
      const o: Record<string, unknown> = {
        op: pick(['subscribe', 'unsubscribe', 'ping', 'SUBSCRIBE', 'publish', '', null, 7, ['ping']]),
        channel: pick([
          CH,
          'features:ETHUSDT',
          'candles:btcusdt',
          'predictions:',
          'predictions:A',
          `predictions:${'B'.repeat(int(40))}`,
          'nope:BTCUSDT',
          42,
          null,
          { a: 1 },
          str(int(30)),
        ]),
      };
      if (rnd() < 0.5) o.id = pick([int(1e9), -1, 1.5, 1e308, str(int(200)), 'x'.repeat(128), 'x'.repeat(129), {}, [], null, true]);
      if (rnd() < 0.4)
        o.resume = pick([
          { epoch, seq: int(1000) },
          { epoch: 'other', seq: 3 },
          { epoch, seq: -1 },
          { epoch, seq: 1.5 },
          { epoch: 'e'.repeat(100), seq: 1 },
          { seq: 2 },
          'resume',
          null,
          [],
        ]);
      if (rnd() < 0.3) o[str(int(10))] = str(int(50));
      return o;
    };
    type Frame = { data: string | Buffer; binary: boolean; many?: number };
    const frames: (() => Frame)[] = [
      () => ({ data: bytes(1 + int(300)), binary: true }),
      () => ({ data: bytes(1 + int(300)), binary: false }), // usually invalid UTF-8 in a text frame
      () => ({ data: str(int(300)), binary: false }),
      () => {
        const t = JSON.stringify(randomOp());
        return { data: t.slice(0, int(t.length)), binary: false };
      },
      () => {
        const d = 1 + int(20_000);
        return { data: '['.repeat(d) + ']'.repeat(d), binary: false };
      },
      () => {
        const d = 1 + int(5000);
        return { data: '{"a":'.repeat(d) + '1' + '}'.repeat(d), binary: false };
      },
      () => ({ data: JSON.stringify(randomOp()), binary: false }),
      () => ({ data: JSON.stringify(randomOp()), binary: false }),
      () => ({ data: JSON.stringify(pick([[], 'str', 12, null, true, [{ op: 'ping' }]])), binary: false }),
      () => ({ data: JSON.stringify({ op: 'ping', id: 'i'.repeat(60_000) }), binary: false }),
      () => ({ data: 'x'.repeat(64 * 1024 + 1 + int(2000)), binary: int(2) === 0 }),
      () => ({ data: JSON.stringify({ op: 'ping' }), binary: false, many: 50 + int(100) }),
    ];

    const closeCodes = new Map<number, number>();
    const errorCodes = new Set<string>();
    const malformed: string[] = [];
    let sent = 0;
    const deadline = Date.now() + 3000;
    const worker = async (): Promise<void> => {
      while (Date.now() < deadline) {
        const c = await connectWs(url);
        while (!c.isClosed && Date.now() < deadline) {
          const f = pick(frames)();
          for (let i = 0; i < (f.many ?? 1) && !c.isClosed; i++) {
            c.ws.send(f.data, { binary: f.binary });
            sent++;
          }
          await new Promise((r) => setTimeout(r, int(15)));
        }
        if (!c.isClosed) c.close();
        const close = await closeOf(c, 'a fuzzed connection to close');
        closeCodes.set(close.code, (closeCodes.get(close.code) ?? 0) + 1);
        for (const m of c.all) if (m.type === 'error') errorCodes.add(String(m.code));
        malformed.push(...c.malformed);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    process.stderr.write(`gateway fuzz seed ${seed}: ${sent} frames, closes ${JSON.stringify([...closeCodes])}, errors ${JSON.stringify([...errorCodes])}\n`);

    expect(malformed, `seed ${seed}`).toEqual([]);
    expect(
      [...errorCodes].filter((e) => e !== 'ERR_WS_PROTOCOL' && e !== 'ERR_RATE_LIMITED'),
      `seed ${seed}`,
    ).toEqual([]);
    // 1000 our own close; 1002/1007 ws refusing a broken frame; 1009 too large; 4029 rate limit.
    expect(
      [...closeCodes.keys()].filter((code) => ![1000, 1002, 1005, 1006, 1007, 1009, 4029].includes(code)),
      `seed ${seed}`,
    ).toEqual([]);

    // The two documented cut-offs, deterministically.
    const big = await client(url);
    big.ws.send('x'.repeat(64 * 1024 + 1));
    expect((await closeOf(big, 'the 1009 close')).code).toBe(1009);
    // Over the burst (2 x the default 20/s): refused with an error, the connection stays; keeping
    // on past the burst again closes it with 4029.
    const flood = await client(url);
    await flood.next();
    for (let i = 0; i < 45; i++) flood.send({ op: 'ping', id: i });
    expect(await flood.waitFor((m) => m.type === 'error', 'the rate-limit error')).toMatchObject({ type: 'error', code: 'ERR_RATE_LIMITED' });
    expect(flood.all.filter((m) => m.type === 'pong')).toHaveLength(40);
    expect(flood.isClosed).toBe(false);
    for (let i = 0; i < 100; i++) flood.send({ op: 'ping', id: i });
    expect((await closeOf(flood, 'the 4029 close')).code).toBe(4029);

    // Still alive and serving, and nothing the clients sent made the gateway log an error (pino
    // level 50+: a handler that threw, a failed request).
    expect(fatal).toEqual([]);
    const errors = g.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
    expect(errors, `seed ${seed}`).toEqual([]);
    expect((await fetch(`${g.gateway.url()}/healthz`)).status).toBe(200);
    const fresh = await client(url);
    expect((await fresh.next()).type).toBe('hello');
    fresh.send({ op: 'ping', id: 'p' });
    expect(await fresh.next()).toEqual({ type: 'pong', id: 'p' });
    const sub = await subscribe(fresh, CH);
    const p = prediction(100);
    await producePredictions(tp, producer, [p]);
    expect(await fresh.waitFor((m) => m.type === 'prediction', 'a prediction after the fuzz run')).toEqual({
      type: 'prediction',
      channel: CH,
      seq: (sub.seq as number) + 1,
      pos: POS,
      data: p,
    });
    fresh.close();
  });

  // The hub used to close (4029) synchronously while the replies to the accepted requests and the
  // rate-limit error still waited in the client's request chain, so none of them was written.
  it('a flood in one read still gets the replies to its accepted requests and the rate-limit error before 4029', async () => {
    const flood = await client(wsUrl(g.gateway.url()));
    await flood.next();
    for (let i = 0; i < 200; i++) flood.send({ op: 'ping', id: i });
    expect((await closeOf(flood, 'the 4029 close')).code).toBe(4029);
    expect(flood.all.filter((m) => m.type === 'pong')).toHaveLength(40);
    expect(flood.all.some((m) => m.type === 'error' && m.code === 'ERR_RATE_LIMITED')).toBe(true);
  });

  it('stop() closes connected clients with 1001', async () => {
    const c = await client(wsUrl(g.gateway.url()));
    await subscribe(c, CH);
    await g.gateway.stop();
    expect((await closeOf(c, 'the 1001 close')).code).toBe(1001);
  });
});

describe('API keys and Origin (BITPREDICT_GATEWAY_AUTH=keys)', () => {
  let g: StartedGateway;

  beforeAll(async () => {
    g = await startGateway(tp, {
      label: 'gwws-auth',
      fatal,
      captureLogs: true,
      overrides: { BITPREDICT_GATEWAY_AUTH: 'keys', BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true', BITPREDICT_GATEWAY_KEY_RECHECK_MS: '200' },
    });
  });

  afterAll(async () => {
    await g?.gateway.stop();
  });

  it('401/403 on REST and on the upgrade, revocation closes open sockets with 4001, no secret in the log', async () => {
    const store = createKeyStore(tp.redis, g.config.redis.keyPrefix);
    const read = await store.create('reader', 'read');
    const admin = await store.create('ops', 'admin');
    const doomed = await store.create('to revoke', 'read');
    const doomedWs = await store.create('ws to revoke', 'read');
    await tp.redis.set(redisKeys(g.config.redis.keyPrefix).predictionsLatest('BTCUSDT'), JSON.stringify(prediction(1)));
    const base = g.gateway.url();
    const get = async (
      path: string,
      key?: string,
      headers: Record<string, string> = {},
    ): Promise<{ status: number; body: { code?: string } & Record<string, unknown> }> => {
      const res = await fetch(`${base}${path}`, { headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...headers } });
      return { status: res.status, body: (await res.json()) as { code?: string } };
    };
    const latest = '/v1/predictions/latest?symbol=BTCUSDT';
    const wrong = `bpk_${parseKey(read.key)?.id ?? ''}_${'A'.repeat(43)}`;

    expect(await get(latest)).toMatchObject({ status: 401, body: { code: 'ERR_UNAUTHENTICATED' } });
    expect(await get(latest, wrong)).toMatchObject({ status: 401, body: { code: 'ERR_UNAUTHENTICATED' } });
    expect(await get(latest, 'not-a-key')).toMatchObject({ status: 401, body: { code: 'ERR_UNAUTHENTICATED' } });
    expect(await get(latest, read.key)).toMatchObject({ status: 200 });
    expect(await get(latest, undefined, { 'x-api-key': read.key })).toMatchObject({ status: 200 });
    expect(await get(latest, doomed.key)).toMatchObject({ status: 200 });
    await store.revoke(doomed.record.id);
    expect(await get(latest, doomed.key)).toMatchObject({ status: 401, body: { code: 'ERR_UNAUTHENTICATED' } });
    expect(await get('/v1/keys', read.key)).toMatchObject({ status: 403, body: { code: 'ERR_FORBIDDEN' } });
    expect(await get('/v1/keys', admin.key)).toMatchObject({ status: 200 });

    const url = wsUrl(base);
    expect(await refusedUpgrade(url)).toMatchObject({ status: 401 });
    expect(JSON.parse((await refusedUpgrade(url)).body)).toMatchObject({ code: 'ERR_UNAUTHENTICATED' });
    expect(await refusedUpgrade(url, { authorization: `Bearer ${wrong}` })).toMatchObject({ status: 401 });
    expect(await refusedUpgrade(wsUrl(base, `?api_key=${encodeURIComponent(doomed.key)}`))).toMatchObject({ status: 401 });
    const evil = await refusedUpgrade(url, { authorization: `Bearer ${read.key}`, origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body)).toMatchObject({ code: 'ERR_ORIGIN_FORBIDDEN' });

    const byHeader = await client(url, { authorization: `Bearer ${read.key}` });
    expect((await byHeader.next()).type).toBe('hello');
    const byQuery = await client(wsUrl(base, `?api_key=${encodeURIComponent(read.key)}`));
    expect((await byQuery.next()).type).toBe('hello');
    const victim = await client(url, { authorization: `Bearer ${doomedWs.key}` });
    expect((await victim.next()).type).toBe('hello');
    await subscribe(victim, CH);

    await store.revoke(doomedWs.record.id);
    // The re-check runs every 200 ms; the wait is bounded well above that.
    expect((await closeOf(victim, 'the 4001 close', 10_000)).code).toBe(4001);
    // The other keys' connections stay.
    byHeader.send({ op: 'ping', id: 1 });
    expect(await byHeader.waitFor((m) => m.type === 'pong', 'a pong')).toEqual({ type: 'pong', id: 1 });
    expect(byQuery.isClosed).toBe(false);

    const log = g.logs.join('');
    expect(log.length).toBeGreaterThan(0);
    for (const k of [read, admin, doomed, doomedWs]) {
      const secret = parseKey(k.key)?.secret ?? '';
      expect(secret.length).toBe(43);
      expect(log.includes(secret), `secret of key ${k.record.name} in the gateway log`).toBe(false);
    }
    for (const c of [byHeader, byQuery]) c.close();
  });
});

describe('/readyz without a champion model', () => {
  let g: StartedGateway;
  let storeDir: string;
  const modelName = `gwws-model-${Date.now().toString(36)}`;

  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), 'bp-gwws-models-'));
    g = await startGateway(tp, {
      label: 'gwws-ready',
      fatal,
      overrides: {
        BITPREDICT_GATEWAY_AUTH: 'open',
        BITPREDICT_MODEL_NAME: modelName,
        BITPREDICT_MODEL_STORE_DIR: storeDir,
      },
      // The default configuration: ready once the consumer joined and Redis answered, champion or not.
      until: (gw) => gw.readiness().ready,
    });
  });

  afterAll(async () => {
    await g?.gateway.stop();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });

  it('200 with a warning naming the missing champion (the baselines serve), the warning gone once a ModelAnnouncement is on the models topic', async () => {
    const res = await fetch(`${g.gateway.url()}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; checks: Record<string, string>; warnings: string[] };
    expect(body.status).toBe('ready');
    expect(body.checks.model).toMatch(/no champion/);
    expect(body.warnings).toEqual([expect.stringMatching(/no champion model .*baseline predictions/)]);

    const now = Date.now();
    const ann: ModelAnnouncement = {
      name: modelName,
      version: 'v-test-1',
      artifactUri: `file://${storeDir}/${modelName}/v-test-1`,
      featureSetVersion: 'fs-test',
      trainedFrom: now - 86_400_000,
      trainedTo: now - 3_600_000,
      metrics: { mse: 0.001 },
      backend: 'cpu',
      codeVersion: 'test',
      createdAt: now,
      expiresAt: null,
    };
    await producer.send([{ topic: tp.topic('models'), key: modelName, value: tp.platform.serde.encode('models', ann), timestamp: now }]);
    await waitFor(() => g.gateway.readiness().checks.model?.includes('v-test-1') === true, 'the gateway to see the champion', 20_000);
    const res2 = await fetch(`${g.gateway.url()}/readyz`);
    expect(res2.status).toBe(200);
    const ready = (await res2.json()) as { checks: Record<string, string>; warnings: string[] };
    expect(ready.checks.model).toMatch(/v-test-1/);
    expect(ready.warnings).toEqual([]);
    expect(fatal).toEqual([]);
  });
});
