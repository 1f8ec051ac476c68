import { afterEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger } from '../../core/logger.js';
import type { Prediction } from '../../schemas/types.js';
import {
  DEFAULT_MAX_CHANNELS,
  MAX_QUEUED_REQUESTS,
  MAX_SUBSCRIPTIONS,
  createHub,
  parseChannel,
  parseClientMessage,
  type ChannelKind,
  type Hub,
  type HubConnection,
  type HubDeps,
  type HubSocket,
} from './hub.js';

const logger = createLogger({ level: 'silent' });

class FakeSocket implements HubSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly raw: Buffer[] = [];
  readonly closes: { code: number; reason: string }[] = [];
  pings = 0;
  terminated = false;

  send(data: Buffer, options: { binary: boolean }): void {
    if (options.binary) throw new Error('hub must send text frames');
    this.raw.push(data);
  }
  ping(): void {
    this.pings++;
  }
  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
    this.readyState = 2;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
  messages(): Record<string, unknown>[] {
    return this.raw.map((b) => JSON.parse(b.toString('utf8')) as Record<string, unknown>);
  }
  types(): unknown[] {
    return this.messages().map((m) => m.type);
  }
  last(): Record<string, unknown> | undefined {
    return this.messages().at(-1);
  }
}

function prediction(over: Partial<Prediction> = {}): Prediction {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime: 1_735_689_600_000,
    targetTime: 1_735_693_200_000,
    horizonSteps: 1,
    predictedLogReturn: 0.0012,
    predictedPrice: 94_000.5,
    probUp: 0.56,
    modelName: 'lstm-attn',
    modelVersion: '3',
    isBaseline: false,
    featureSetVersion: 'fs1',
    candleIngestedAt: 1_735_693_200_100,
    featuresComputedAt: 1_735_693_200_150,
    predictedAt: 1_735_693_200_200,
    quantileLevels: [],
    horizons: [],
    ...over,
  };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type SnapshotFn = (kind: ChannelKind, symbol: string) => Promise<unknown[]>;
interface Setup {
  hub: Hub;
  registry: Registry;
  snapshot: ReturnType<typeof vi.fn<SnapshotFn>>;
}

const hubs: Hub[] = [];
afterEach(() => {
  for (const h of hubs.splice(0)) h.close();
  vi.useRealTimers();
});

function setup(over: Partial<HubDeps> = {}): Setup {
  const registry = new Registry();
  const snapshot = vi.fn<SnapshotFn>(() => Promise.resolve([]));
  const hub = createHub({ logger, registry, snapshot, maxBufferedBytes: 16 * 1024, epoch: 'e1', clientRate: 1000, ...over });
  hubs.push(hub);
  return { hub, registry, snapshot: (over.snapshot as Setup['snapshot'] | undefined) ?? snapshot };
}

function connect(hub: Hub): { socket: FakeSocket; conn: HubConnection } {
  const socket = new FakeSocket();
  return { socket, conn: hub.connect(socket) };
}

function send(conn: HubConnection, msg: unknown): void {
  conn.receive(Buffer.from(JSON.stringify(msg)), false);
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`metric ${name} not registered`);
  const { values } = await m.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('parseChannel', () => {
  it('normalises the symbol to upper case and accepts any case of the prefix', () => {
    expect(parseChannel('predictions:btcUSDT')).toEqual({ channel: 'predictions:BTCUSDT', kind: 'predictions', symbol: 'BTCUSDT' });
    expect(parseChannel('PREDICTIONS:eth2')).toEqual({ channel: 'predictions:ETH2', kind: 'predictions', symbol: 'ETH2' });
    expect(parseChannel('Features:btcusdt')).toEqual({ channel: 'features:BTCUSDT', kind: 'features', symbol: 'BTCUSDT' });
    expect(parseChannel('candles:BTCUSDT')).toEqual({ channel: 'candles:BTCUSDT', kind: 'candles', symbol: 'BTCUSDT' });
    expect(parseChannel('Scores:btcusdt')).toEqual({ channel: 'scores:BTCUSDT', kind: 'scores', symbol: 'BTCUSDT' });
  });

  it.each([
    ['no prefix', 'BTCUSDT'],
    ['other prefix', 'trades:BTCUSDT'],
    ['singular kind', 'prediction:BTCUSDT'],
    ['two colons', 'predictions:BTC:USDT'],
    ['one character', 'predictions:B'],
    ['21 characters', `predictions:${'A'.repeat(21)}`],
    ['punctuation', 'predictions:BTC-USDT'],
    ['trailing space', 'predictions:BTCUSDT '],
    ['newline', 'predictions:BTCUSDT\n'],
    ['empty symbol', 'predictions:'],
    ['non-ASCII', 'predictions:BTCÜSDT'],
    ['number', 42],
    ['null', null],
  ])('refuses %s', (_label, value) => {
    expect(parseChannel(value)).toBeNull();
  });
});

describe('parseClientMessage', () => {
  it('parses the three ops and keeps a string or numeric id', () => {
    expect(parseClientMessage('{"op":"ping"}')).toEqual({ ok: true, request: { op: 'ping' } });
    expect(parseClientMessage('{"op":"ping","id":7}')).toEqual({ ok: true, request: { op: 'ping', id: 7 } });
    expect(parseClientMessage('{"op":"subscribe","channel":"predictions:btcusdt","id":"a"}')).toEqual({
      ok: true,
      request: { op: 'subscribe', channel: 'predictions:BTCUSDT', kind: 'predictions', symbol: 'BTCUSDT', id: 'a' },
    });
    expect(parseClientMessage('{"op":"unsubscribe","channel":"candles:ETHUSDT"}')).toEqual({
      ok: true,
      request: { op: 'unsubscribe', channel: 'candles:ETHUSDT', kind: 'candles', symbol: 'ETHUSDT' },
    });
    expect(parseClientMessage('{"op":"subscribe","channel":"features:ETHUSDT","resume":{"epoch":"e9","seq":41}}')).toEqual({
      ok: true,
      request: { op: 'subscribe', channel: 'features:ETHUSDT', kind: 'features', symbol: 'ETHUSDT', resume: { epoch: 'e9', seq: 41 } },
    });
  });

  it.each([
    ['not JSON', 'hello', 'json'],
    ['truncated JSON', '{"op":"subscr', 'json'],
    ['empty frame', '', 'json'],
    ['JSON array', '[{"op":"ping"}]', 'not_object'],
    ['JSON null', 'null', 'not_object'],
    ['JSON string', '"ping"', 'not_object'],
    ['JSON number', '1', 'not_object'],
    ['missing op', '{"channel":"predictions:BTCUSDT"}', 'unknown_op'],
    ['unknown op', '{"op":"publish"}', 'unknown_op'],
    ['op of wrong case', '{"op":"PING"}', 'unknown_op'],
    ['subscribe without channel', '{"op":"subscribe"}', 'bad_channel'],
    ['subscribe to a bad channel', '{"op":"subscribe","channel":"predictions:$$"}', 'bad_channel'],
    ['channel that is an object', '{"op":"unsubscribe","channel":{"x":1}}', 'bad_channel'],
    ['id that is an object', '{"op":"ping","id":{}}', 'bad_id'],
    ['id that is a boolean', '{"op":"ping","id":true}', 'bad_id'],
    ['id that is too long', JSON.stringify({ op: 'ping', id: 'x'.repeat(129) }), 'bad_id'],
    ['resume that is a number', '{"op":"subscribe","channel":"predictions:BTCUSDT","resume":5}', 'bad_resume'],
    ['resume without epoch', '{"op":"subscribe","channel":"predictions:BTCUSDT","resume":{"seq":5}}', 'bad_resume'],
    ['resume with a negative seq', '{"op":"subscribe","channel":"predictions:BTCUSDT","resume":{"epoch":"e","seq":-1}}', 'bad_resume'],
    ['resume with a fractional seq', '{"op":"subscribe","channel":"predictions:BTCUSDT","resume":{"epoch":"e","seq":1.5}}', 'bad_resume'],
    ['resume with a huge seq', '{"op":"subscribe","channel":"predictions:BTCUSDT","resume":{"epoch":"e","seq":1e300}}', 'bad_resume'],
    [
      'resume with an overlong epoch',
      JSON.stringify({ op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'e'.repeat(65), seq: 1 } }),
      'bad_resume',
    ],
  ])('refuses %s', (_label, text, reason) => {
    const r = parseClientMessage(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe(reason);
      expect(r.message.length).toBeGreaterThan(0);
    }
  });

  it('keeps the id of a refused request so the error can be matched', () => {
    expect(parseClientMessage('{"op":"nope","id":"q1"}')).toMatchObject({ ok: false, reason: 'unknown_op', id: 'q1' });
  });
});

describe('createHub', () => {
  it('greets a new client with the protocol version and channel grammar', () => {
    const { hub } = setup();
    const { socket } = connect(hub);
    expect(socket.messages()).toEqual([
      {
        type: 'hello',
        protocol: 2,
        epoch: 'e1',
        channels: ['predictions:<SYMBOL>', 'features:<SYMBOL>', 'candles:<SYMBOL>', 'scores:<SYMBOL>'],
        limits: {
          maxSubscriptions: MAX_SUBSCRIPTIONS,
          messagesPerSecond: 1000,
          burst: 2000,
          replayBuffer: 1000,
          maxChannels: DEFAULT_MAX_CHANNELS,
          maxBufferedBytes: 16 * 1024,
          idleTimeoutMs: 0,
        },
        heartbeatMs: 30_000,
      },
    ]);
    expect(hub.clientCount()).toBe(1);
  });

  it('answers subscribe with the snapshot from the latest source and echoes the id', async () => {
    const snap = prediction();
    const { hub, snapshot } = setup({ snapshot: vi.fn<SnapshotFn>(() => Promise.resolve([snap])) });
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:btcusdt', id: 1 });
    await flush();
    expect(snapshot).toHaveBeenCalledWith('predictions', 'BTCUSDT');
    expect(socket.last()).toEqual({ type: 'subscribed', channel: 'predictions:BTCUSDT', seq: 0, cursor: {}, snapshot: [snap], id: 1 });
  });

  it('fans a prediction out only to subscribers of its symbol, serialised once', async () => {
    const { hub, registry } = setup();
    const a = connect(hub);
    const b = connect(hub);
    const other = connect(hub);
    const bystander = connect(hub);
    send(a.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    send(b.conn, { op: 'subscribe', channel: 'predictions:btcusdt' });
    send(other.conn, { op: 'subscribe', channel: 'predictions:ETHUSDT' });
    await flush();
    const before = { a: a.socket.raw.length, b: b.socket.raw.length, other: other.socket.raw.length, by: bystander.socket.raw.length };

    const p = prediction();
    hub.publish('predictions', p);

    expect(a.socket.raw.length).toBe(before.a + 1);
    expect(b.socket.raw.length).toBe(before.b + 1);
    expect(other.socket.raw.length).toBe(before.other);
    expect(bystander.socket.raw.length).toBe(before.by);
    expect(a.socket.last()).toEqual({ type: 'prediction', channel: 'predictions:BTCUSDT', seq: 1, data: p });
    // Same Buffer object for every subscriber: the hub did not stringify per client.
    expect(a.socket.raw.at(-1)).toBe(b.socket.raw.at(-1));
    expect(await metric(registry, 'bitpredict_gateway_published_total', { kind: 'predictions' })).toBe(1);
    expect(await metric(registry, 'bitpredict_gateway_ws_messages_sent_total', { type: 'prediction' })).toBe(2);
    expect(await metric(registry, 'bitpredict_gateway_ws_subscriptions')).toBe(3);
  });

  it('routes a prediction with a lower-case symbol to the upper-case channel and ignores a symbol outside the grammar', async () => {
    const { hub } = setup();
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    const n = socket.raw.length;
    hub.publish('predictions', prediction({ symbol: 'btcusdt' }));
    expect(socket.raw.length).toBe(n + 1);
    expect(() => hub.publish('predictions', prediction({ symbol: 'BTC/USDT' }))).not.toThrow();
    expect(() => hub.publish('predictions', prediction({ symbol: undefined as unknown as string }))).not.toThrow();
    expect(socket.raw.length).toBe(n + 1);
  });

  it('stops delivery after unsubscribe and answers a repeated unsubscribe too', async () => {
    const { hub, registry } = setup();
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    send(conn, { op: 'unsubscribe', channel: 'predictions:BTCUSDT', id: 'u' });
    send(conn, { op: 'unsubscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    expect(socket.messages().slice(-2)).toEqual([
      { type: 'unsubscribed', channel: 'predictions:BTCUSDT', id: 'u' },
      { type: 'unsubscribed', channel: 'predictions:BTCUSDT' },
    ]);
    const n = socket.raw.length;
    hub.publish('predictions', prediction());
    expect(socket.raw.length).toBe(n);
    expect(await metric(registry, 'bitpredict_gateway_ws_subscriptions')).toBe(0);
  });

  it('holds live predictions back until the snapshot is sent, then delivers them all in seq order', async () => {
    const gate = deferred<unknown[]>();
    const { hub } = setup({ snapshot: vi.fn<SnapshotFn>(() => gate.promise) });
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    const snap = prediction({ eventTime: 1, predictedPrice: 1 });
    const newer = prediction({ eventTime: 2, predictedPrice: 2 });
    hub.publish('predictions', snap);
    hub.publish('predictions', newer);
    expect(socket.types()).toEqual(['hello']);
    gate.resolve([snap]);
    await flush();
    // The snapshot may equal a held message (both read after it was published): the client sees
    // it twice, once as state and once with its seq; nothing is skipped, so seqs have no hole.
    expect(socket.messages()).toEqual([
      expect.objectContaining({ type: 'hello' }),
      { type: 'subscribed', channel: 'predictions:BTCUSDT', seq: 0, cursor: {}, snapshot: [snap] },
      { type: 'prediction', channel: 'predictions:BTCUSDT', seq: 1, data: snap },
      { type: 'prediction', channel: 'predictions:BTCUSDT', seq: 2, data: newer },
    ]);
  });

  it('subscribes without a snapshot when the snapshot source fails, and keeps the connection', async () => {
    const { hub } = setup({ snapshot: vi.fn<SnapshotFn>(() => Promise.reject(new Error('redis down'))) });
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    expect(socket.last()).toEqual({
      type: 'subscribed',
      channel: 'predictions:BTCUSDT',
      seq: 0,
      cursor: {},
      snapshot: [],
      snapshotError: 'snapshot unavailable',
    });
    hub.publish('predictions', prediction());
    expect(socket.last()).toMatchObject({ type: 'prediction' });
    expect(socket.closes).toEqual([]);
  });

  it('answers requests in order even when a subscribe waits for its snapshot', async () => {
    const gate = deferred<unknown[]>();
    const { hub } = setup({ snapshot: vi.fn<SnapshotFn>(() => gate.promise) });
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', id: 1 });
    send(conn, { op: 'ping', id: 2 });
    conn.receive('nonsense', false);
    await flush();
    expect(socket.types()).toEqual(['hello']);
    gate.resolve([]);
    await flush();
    expect(
      socket
        .messages()
        .slice(1)
        .map((m) => [m.type, m.id]),
    ).toEqual([
      ['subscribed', 1],
      ['pong', 2],
      ['error', undefined],
    ]);
  });

  it('refuses a subscription beyond the limit but accepts a repeated one', async () => {
    const { hub, registry } = setup();
    const { socket, conn } = connect(hub);
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) send(conn, { op: 'subscribe', channel: `predictions:SYM${i}` });
    await flush();
    expect(socket.types().filter((t) => t === 'subscribed')).toHaveLength(MAX_SUBSCRIPTIONS);
    send(conn, { op: 'subscribe', channel: 'predictions:SYM0', id: 'again' });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'subscribed', channel: 'predictions:SYM0', id: 'again' });
    send(conn, { op: 'subscribe', channel: 'predictions:ONEMORE', id: 'x' });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'error', code: 'ERR_WS_PROTOCOL', id: 'x' });
    expect(await metric(registry, 'bitpredict_gateway_ws_protocol_errors_total', { reason: 'too_many_subscriptions' })).toBe(1);
    expect(await metric(registry, 'bitpredict_gateway_ws_subscriptions')).toBe(MAX_SUBSCRIPTIONS);
    expect(socket.closes).toEqual([]);
  });

  it('answers every kind of bad input with an error and keeps the connection open', async () => {
    const { hub, registry } = setup();
    const { socket, conn } = connect(hub);
    conn.receive(Buffer.from([0xde, 0xad]), true);
    conn.receive(Buffer.from('not json'), false);
    conn.receive([Buffer.from('{"op":'), Buffer.from('"nope"}')], false);
    conn.receive(new TextEncoder().encode('[1,2]').buffer, false);
    conn.receive(Buffer.from([0xff, 0xfe, 0x00]), false);
    send(conn, { op: 'subscribe', channel: 'predictions:x' });
    send(conn, { op: 'ping', id: {} });
    send(conn, { op: 'ping' });
    await flush();
    const msgs = socket.messages().slice(1);
    expect(msgs.slice(0, -1).every((m) => m.type === 'error' && m.code === 'ERR_WS_PROTOCOL' && typeof m.message === 'string')).toBe(true);
    expect(msgs).toHaveLength(8);
    expect(msgs.at(-1)).toEqual({ type: 'pong' });
    expect(socket.closes).toEqual([]);
    expect(socket.terminated).toBe(false);
    for (const reason of ['binary', 'json', 'unknown_op', 'not_object', 'bad_channel', 'bad_id']) {
      expect(await metric(registry, 'bitpredict_gateway_ws_protocol_errors_total', { reason })).toBeGreaterThanOrEqual(1);
    }
  });

  it('refuses requests beyond the per-client queue instead of queueing without bound', async () => {
    const gate = deferred<unknown[]>();
    const { hub, registry } = setup({ snapshot: vi.fn<SnapshotFn>(() => gate.promise) });
    const { socket, conn } = connect(hub);
    // The subscribe waits for its snapshot, so the pings behind it pile up.
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    for (let i = 0; i < MAX_QUEUED_REQUESTS + 4; i++) send(conn, { op: 'ping', id: i });
    expect(await metric(registry, 'bitpredict_gateway_ws_protocol_errors_total', { reason: 'queue_full' })).toBe(5);
    gate.resolve([]);
    await flush();
    expect(socket.types().filter((t) => t === 'subscribed')).toHaveLength(1);
    expect(socket.types().filter((t) => t === 'pong')).toHaveLength(MAX_QUEUED_REQUESTS - 1);
    expect(socket.closes).toEqual([]);
  });

  it('closes a slow client with 4008 without delaying the others', async () => {
    const { hub, registry } = setup({ maxBufferedBytes: 1024 });
    const fast = connect(hub);
    const slow = connect(hub);
    send(fast.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    send(slow.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    slow.socket.bufferedAmount = 1025;
    const fastBefore = fast.socket.raw.length;
    const slowBefore = slow.socket.raw.length;
    hub.publish('predictions', prediction({ eventTime: 1 }));
    hub.publish('predictions', prediction({ eventTime: 2 }));
    expect(slow.socket.closes).toEqual([{ code: 4008, reason: 'too slow: send buffer over the limit' }]);
    expect(slow.socket.raw.length).toBe(slowBefore);
    expect(fast.socket.raw.length).toBe(fastBefore + 2);
    expect(hub.clientCount()).toBe(1);
    expect(await metric(registry, 'bitpredict_gateway_ws_server_closes_total', { reason: 'too_slow' })).toBe(1);
    expect(await metric(registry, 'bitpredict_gateway_ws_clients')).toBe(1);
    expect(await metric(registry, 'bitpredict_gateway_ws_subscriptions')).toBe(1);
  });

  it('closes a client whose held-back predictions outgrow the limit while its snapshot is pending', async () => {
    const gate = deferred<unknown[]>();
    const { hub, registry } = setup({ snapshot: vi.fn<SnapshotFn>(() => gate.promise), maxBufferedBytes: 2048 });
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    for (let i = 0; i < 10; i++) hub.publish('predictions', prediction({ eventTime: i, modelName: 'm'.repeat(400) }));
    expect(socket.closes).toEqual([{ code: 4008, reason: 'too slow: send buffer over the limit' }]);
    expect(await metric(registry, 'bitpredict_gateway_ws_server_closes_total', { reason: 'too_slow' })).toBe(1);
    gate.resolve([]);
    await flush();
    expect(socket.types()).toEqual(['hello']);
  });

  it('pings every heartbeat and terminates a client that missed a pong', async () => {
    vi.useFakeTimers();
    const { hub, registry } = setup({ heartbeatMs: 1000 });
    const alive = connect(hub);
    const dead = connect(hub);
    vi.advanceTimersByTime(1000);
    expect(alive.socket.pings).toBe(1);
    expect(dead.socket.pings).toBe(1);
    alive.conn.pong();
    vi.advanceTimersByTime(1000);
    expect(dead.socket.terminated).toBe(true);
    expect(alive.socket.terminated).toBe(false);
    expect(alive.socket.pings).toBe(2);
    expect(hub.clientCount()).toBe(1);
    expect(await metric(registry, 'bitpredict_gateway_ws_server_closes_total', { reason: 'dead' })).toBe(1);
  });

  it('forgets a client whose socket closed, even with a snapshot still pending', async () => {
    const gate = deferred<unknown[]>();
    const { hub } = setup({ snapshot: vi.fn<SnapshotFn>(() => gate.promise) });
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    conn.closed();
    expect(hub.clientCount()).toBe(0);
    gate.resolve([prediction()]);
    await flush();
    hub.publish('predictions', prediction());
    expect(socket.types()).toEqual(['hello']);
    send(conn, { op: 'ping' });
    await flush();
    expect(socket.types()).toEqual(['hello']);
  });

  it('counts an oversized frame and leaves the closing to ws', async () => {
    const { hub, registry } = setup();
    const { socket, conn } = connect(hub);
    socket.readyState = 2;
    conn.error(Object.assign(new RangeError('Max payload size exceeded'), { code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' }));
    expect(socket.terminated).toBe(false);
    expect(hub.clientCount()).toBe(0);
    expect(await metric(registry, 'bitpredict_gateway_ws_protocol_errors_total', { reason: 'too_large' })).toBe(1);
  });

  it('terminates an open socket that reported an error', () => {
    const { hub } = setup();
    const { socket, conn } = connect(hub);
    conn.error(new Error('ECONNRESET'));
    expect(socket.terminated).toBe(true);
    expect(hub.clientCount()).toBe(0);
  });

  it('close() sends 1001 to every client and turns publish and connect into no-ops', async () => {
    const { hub } = setup();
    const a = connect(hub);
    send(a.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    hub.close();
    expect(a.socket.closes).toEqual([{ code: 1001, reason: 'server shutting down' }]);
    expect(hub.clientCount()).toBe(0);
    const n = a.socket.raw.length;
    hub.publish('predictions', prediction());
    expect(a.socket.raw.length).toBe(n);
    const late = connect(hub);
    expect(late.socket.closes).toEqual([{ code: 1001, reason: 'server shutting down' }]);
    expect(late.socket.raw).toHaveLength(0);
    expect(hub.clientCount()).toBe(0);
  });

  it('numbers each channel on its own, and every subscriber of a channel sees the same seq', async () => {
    const { hub } = setup();
    const a = connect(hub);
    const b = connect(hub);
    send(a.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    send(a.conn, { op: 'subscribe', channel: 'features:BTCUSDT' });
    send(b.conn, { op: 'subscribe', channel: 'candles:BTCUSDT' });
    await flush();
    hub.publish('predictions', prediction({ eventTime: 1 }));
    hub.publish('features', { symbol: 'BTCUSDT', eventTime: 1 } as { symbol: string });
    hub.publish('predictions', prediction({ eventTime: 2 }));
    hub.publish('candles', { symbol: 'btcusdt', openTime: 0 } as { symbol: string });
    hub.publish('predictions', prediction({ symbol: 'ETHUSDT' }));
    const pushed = (sock: FakeSocket) =>
      sock
        .messages()
        .filter((m) => typeof m.seq === 'number' && m.type !== 'subscribed')
        .map((m) => [m.type, m.channel, m.seq]);
    expect(pushed(a.socket)).toEqual([
      ['prediction', 'predictions:BTCUSDT', 1],
      ['feature', 'features:BTCUSDT', 1],
      ['prediction', 'predictions:BTCUSDT', 2],
    ]);
    expect(pushed(b.socket)).toEqual([['candle', 'candles:BTCUSDT', 1]]);
  });

  it('serves live scores on scores:<SYMBOL>: the snapshot, then score messages with their own seqs, resumable', async () => {
    const latest = [{ symbol: 'BTCUSDT', modelName: 'persistence', horizonSteps: 1, windowMs: 86_400_000 }];
    const { hub, snapshot } = setup({ snapshot: vi.fn<SnapshotFn>((kind) => Promise.resolve(kind === 'scores' ? latest : [])), replayBuffer: 10 });
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'scores:btcusdt', id: 's' });
    await flush();
    expect(snapshot).toHaveBeenCalledWith('scores', 'BTCUSDT');
    expect(socket.last()).toEqual({ type: 'subscribed', channel: 'scores:BTCUSDT', seq: 0, cursor: {}, snapshot: latest, id: 's' });
    hub.publish('predictions', prediction());
    const score = { symbol: 'BTCUSDT', modelName: 'garch', horizonSteps: 4, windowMs: 604_800_000, pinballLoss: 0.002 };
    hub.publish('scores', score);
    const better = { ...score, pinballLoss: 0.001 };
    hub.publish('scores', better);
    expect(socket.messages().slice(-2)).toEqual([
      { type: 'score', channel: 'scores:BTCUSDT', seq: 1, data: score },
      { type: 'score', channel: 'scores:BTCUSDT', seq: 2, data: better },
    ]);
    const again = connect(hub);
    send(again.conn, { op: 'subscribe', channel: 'scores:BTCUSDT', resume: { epoch: 'e1', seq: 1 } });
    await flush();
    expect(again.socket.messages().slice(1)).toEqual([
      { type: 'subscribed', channel: 'scores:BTCUSDT', seq: 1, cursor: {}, resumed: true, replayed: 1 },
      { type: 'score', channel: 'scores:BTCUSDT', seq: 2, data: better },
    ]);
  });

  it('resumes from the replay buffer: exactly the missed messages, in order, then live', async () => {
    const { hub, registry, snapshot } = setup({ replayBuffer: 10 });
    for (let i = 1; i <= 5; i++) hub.publish('predictions', prediction({ eventTime: i }));
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'e1', seq: 2 }, id: 'r' });
    await flush();
    hub.publish('predictions', prediction({ eventTime: 6 }));
    const msgs = socket.messages().slice(1);
    expect(msgs[0]).toEqual({ type: 'subscribed', channel: 'predictions:BTCUSDT', seq: 2, cursor: {}, resumed: true, replayed: 3, id: 'r' });
    expect(msgs.slice(1).map((m) => [m.seq, (m.data as Prediction).eventTime])).toEqual([
      [3, 3],
      [4, 4],
      [5, 5],
      [6, 6],
    ]);
    // A resume needs no snapshot: the replay is the state change.
    expect(snapshot).not.toHaveBeenCalled();
    expect(await metric(registry, 'bitpredict_gateway_ws_resumes_total', { outcome: 'replayed' })).toBe(1);
  });

  it('resumes with nothing to replay when the client is up to date', async () => {
    const { hub } = setup();
    hub.publish('predictions', prediction());
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'e1', seq: 1 } });
    await flush();
    expect(socket.messages().slice(1)).toEqual([{ type: 'subscribed', channel: 'predictions:BTCUSDT', seq: 1, cursor: {}, resumed: true, replayed: 0 }]);
  });

  it('answers a resume the buffer no longer covers with a gap, then a snapshot subscribe', async () => {
    const snap = prediction({ eventTime: 9 });
    const { hub, registry } = setup({ replayBuffer: 3, snapshot: vi.fn<SnapshotFn>(() => Promise.resolve([snap])) });
    for (let i = 1; i <= 9; i++) hub.publish('predictions', prediction({ eventTime: i }));
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'e1', seq: 4 }, id: 7 });
    await flush();
    expect(socket.messages().slice(1)).toEqual([
      { type: 'gap', channel: 'predictions:BTCUSDT', reason: 'evicted', from: 5, to: 9, epoch: 'e1', id: 7 },
      { type: 'subscribed', channel: 'predictions:BTCUSDT', seq: 9, cursor: {}, snapshot: [snap], id: 7 },
    ]);
    // The oldest the buffer holds is 7: a resume from 6 is still complete.
    const other = connect(hub);
    send(other.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'e1', seq: 6 } });
    await flush();
    expect(
      other.socket
        .messages()
        .slice(2)
        .map((m) => m.seq),
    ).toEqual([7, 8, 9]);
    expect(await metric(registry, 'bitpredict_gateway_ws_resumes_total', { outcome: 'evicted' })).toBe(1);
  });

  it('answers a resume from another epoch (another instance, or a restart) with a gap of reason epoch', async () => {
    const { hub } = setup();
    hub.publish('predictions', prediction());
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'other', seq: 1 } });
    await flush();
    expect(socket.messages().slice(1)).toEqual([
      { type: 'gap', channel: 'predictions:BTCUSDT', reason: 'epoch', from: null, to: 1, epoch: 'e1' },
      { type: 'subscribed', channel: 'predictions:BTCUSDT', seq: 1, cursor: {}, snapshot: [] },
    ]);
  });

  it('answers a resume from a seq this epoch never reached with a gap of reason ahead', async () => {
    const { hub } = setup();
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'e1', seq: 5 } });
    await flush();
    expect(socket.messages()[1]).toMatchObject({ type: 'gap', reason: 'ahead', to: 0 });
    expect(socket.messages()[2]).toMatchObject({ type: 'subscribed', seq: 0 });
  });

  it('keeps no replay with a buffer of 0: every resume with missed messages is a gap', async () => {
    const { hub } = setup({ replayBuffer: 0 });
    hub.publish('predictions', prediction());
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'e1', seq: 0 } });
    await flush();
    expect(socket.messages()[1]).toMatchObject({ type: 'gap', reason: 'evicted', from: 1, to: 1 });
  });

  it('refuses messages over the rate limit with one error per second, and closes a client that keeps on (4029)', async () => {
    let t = 1_000_000;
    const { hub, registry } = setup({ clientRate: 5, now: () => t });
    const polite = connect(hub);
    const { socket, conn } = connect(hub);
    for (let i = 0; i < 10; i++) send(conn, { op: 'ping', id: i });
    send(conn, { op: 'ping', id: 'over' });
    await flush();
    // Burst of 2 x 5 accepted, the 11th refused.
    expect(socket.types().filter((x) => x === 'pong')).toHaveLength(10);
    expect(socket.last()).toMatchObject({ type: 'error', code: 'ERR_RATE_LIMITED', reason: 'rate_limited' });
    t += 400; // two tokens back
    send(conn, { op: 'ping', id: 'a' });
    send(conn, { op: 'ping', id: 'b' });
    await flush();
    expect(
      socket
        .messages()
        .slice(-2)
        .map((m) => m.id),
    ).toEqual(['a', 'b']);
    expect(socket.closes).toEqual([]);
    for (let i = 0; i < 20; i++) send(conn, { op: 'ping' });
    await flush();
    expect(socket.closes).toEqual([{ code: 4029, reason: 'rate limit exceeded' }]);
    expect(socket.types().filter((x) => x === 'error')).toHaveLength(1);
    expect(await metric(registry, 'bitpredict_gateway_ws_server_closes_total', { reason: 'rate_limited' })).toBe(1);
    send(polite.conn, { op: 'ping' });
    await flush();
    expect(polite.socket.last()).toEqual({ type: 'pong' });
  });

  it('on a flood in one read, still answers the accepted requests and sends the error before closing with 4029', async () => {
    const { hub } = setup({ clientRate: 20 });
    const { socket, conn } = connect(hub);
    for (let i = 0; i < 200; i++) send(conn, { op: 'ping', id: i });
    await flush();
    const after = socket.messages().slice(1);
    expect(after.filter((m) => m.type === 'pong')).toHaveLength(40);
    expect(after.at(-1)).toMatchObject({ type: 'error', code: 'ERR_RATE_LIMITED' });
    expect(socket.closes).toEqual([{ code: 4029, reason: 'rate limit exceeded' }]);
  });

  it('closes a client that has no subscription and says nothing for the idle timeout (4000), not a subscribed one', async () => {
    vi.useFakeTimers();
    const { hub, registry } = setup({ idleTimeoutMs: 1000, heartbeatMs: 60_000 });
    const idle = connect(hub);
    const listener = connect(hub);
    send(listener.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await vi.advanceTimersByTimeAsync(10);
    vi.advanceTimersByTime(600);
    expect(idle.socket.closes).toEqual([]);
    vi.advanceTimersByTime(700);
    expect(idle.socket.closes).toEqual([{ code: 4000, reason: 'idle: no subscription and no message' }]);
    expect(listener.socket.closes).toEqual([]);
    expect(await metric(registry, 'bitpredict_gateway_ws_server_closes_total', { reason: 'idle' })).toBe(1);
  });

  it('lists the keys of open connections and closes those of a revoked key', () => {
    const { hub } = setup();
    const a = hub.connect(new FakeSocket(), { keyId: 'k1', name: 'a' });
    void a;
    const bSock = new FakeSocket();
    hub.connect(bSock, { keyId: 'k2', name: 'b' });
    const openSock = new FakeSocket();
    hub.connect(openSock, { keyId: null, name: 'open-mode' });
    expect(hub.keyIds().sort()).toEqual(['k1', 'k2']);
    expect(hub.closeKeys(['k2', 'k9'], 4001, 'API key revoked')).toBe(1);
    expect(bSock.closes).toEqual([{ code: 4001, reason: 'API key revoked' }]);
    expect(openSock.closes).toEqual([]);
    expect(hub.keyIds()).toEqual(['k1']);
  });

  it('coalesces one turn of writes to a client into one cork/uncork, in order, and flushes after the turn', async () => {
    const { hub } = setup();
    class CorkingSocket extends FakeSocket {
      depth = 0;
      corks = 0;
      /** Messages released by each uncork. */
      readonly flushes: number[] = [];
      private held = 0;
      override send(data: Buffer, options: { binary: boolean }): void {
        super.send(data, options);
        if (this.depth > 0) this.held++;
        else this.flushes.push(1);
      }
      cork(): void {
        this.depth++;
        this.corks++;
      }
      uncork(): void {
        this.depth--;
        if (this.depth === 0 && this.held > 0) {
          this.flushes.push(this.held);
          this.held = 0;
        }
      }
    }
    const socket = new CorkingSocket();
    const conn = hub.connect(socket);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    socket.flushes.length = 0;
    const corksBefore = socket.corks;
    for (let i = 1; i <= 5; i++) hub.publish('predictions', prediction({ eventTime: i }));
    // Written to the socket's buffer at once, in order, but not released until the turn ends.
    expect(
      socket
        .messages()
        .slice(-5)
        .map((m) => m.seq),
    ).toEqual([1, 2, 3, 4, 5]);
    expect(socket.flushes).toEqual([]);
    expect(socket.corks - corksBefore).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(socket.flushes).toEqual([5]);
    expect(socket.depth).toBe(0);
    hub.publish('predictions', prediction({ eventTime: 6 }));
    await new Promise((r) => setImmediate(r));
    expect(socket.flushes).toEqual([5, 1]);
  });
});

describe('channels: bounded by a cap, only for known symbols, evicted when idle', () => {
  /** Subscribe then unsubscribe `n` new symbols from one connection; flushes so the queue never fills. */
  async function churn(conn: HubConnection, n: number, prefix: string): Promise<void> {
    for (let i = 0; i < n; i++) {
      send(conn, { op: 'subscribe', channel: `predictions:${prefix}${i}` });
      send(conn, { op: 'unsubscribe', channel: `predictions:${prefix}${i}` });
      if (i % 40 === 39) await flush();
    }
    await flush();
  }

  it('keeps the channel count at the cap through thousands of subscribe/unsubscribe cycles on new symbols', async () => {
    const { hub, registry } = setup({ clientRate: 1_000_000, maxChannels: 100, replayBuffer: 50 });
    const { socket, conn } = connect(hub);
    await churn(conn, 5000, 'X');
    expect(socket.messages().filter((m) => m.type === 'subscribed')).toHaveLength(5000);
    // The gauge (on main it counted every symbol ever subscribed: 5000) and the hub agree.
    expect(await metric(registry, 'bitpredict_gateway_ws_channels')).toBeLessThanOrEqual(100);
    expect(hub.channelCount()).toBeLessThanOrEqual(100);
    expect(await metric(registry, 'bitpredict_gateway_ws_channels_evicted_total', { reason: 'cap' })).toBe(4900);
    // Publishing on the churned symbols fills at most 100 rings of at most 50 messages.
    for (let i = 0; i < 5000; i++) hub.publish('predictions', prediction({ symbol: `X${i}` }));
    expect(hub.channelCount()).toBeLessThanOrEqual(100);
  });

  it('refuses a symbol the gateway does not know (unknown_symbol) without making a channel, and accepts it once a record of it was read', async () => {
    const { hub, registry, snapshot } = setup({ clientRate: 1_000_000, symbols: ['BTCUSDT'] });
    const { socket, conn } = connect(hub);
    await churn(conn, 3000, 'NEW');
    const errors = socket.messages().filter((m) => m.type === 'error');
    expect(errors).toHaveLength(3000);
    expect(errors[0]).toMatchObject({ code: 'ERR_WS_PROTOCOL', reason: 'unknown_symbol' });
    expect(hub.channelCount()).toBe(0);
    expect(await metric(registry, 'bitpredict_gateway_ws_protocol_errors_total', { reason: 'unknown_symbol' })).toBe(3000);
    // Configured: known from the start (any case of the input).
    send(conn, { op: 'subscribe', channel: 'candles:btcusdt', id: 'c' });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'subscribed', channel: 'candles:BTCUSDT', id: 'c' });
    // Stored (the snapshot source has values of it): known from then on.
    snapshot.mockImplementation((kind, symbol) => Promise.resolve(symbol === 'STORED' && kind === 'scores' ? [{ symbol }] : []));
    send(conn, { op: 'subscribe', channel: 'scores:stored', id: 's' });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'subscribed', channel: 'scores:STORED', snapshot: [{ symbol: 'STORED' }], id: 's' });
    send(conn, { op: 'subscribe', channel: 'candles:STORED', id: 's2' });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'subscribed', channel: 'candles:STORED', snapshot: [], id: 's2' });
    // A snapshot source that fails does not make a symbol known.
    snapshot.mockImplementation(() => Promise.reject(new Error('redis down')));
    send(conn, { op: 'subscribe', channel: 'scores:DOWN', id: 'd' });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'error', reason: 'unknown_symbol', id: 'd' });
    snapshot.mockImplementation(() => Promise.resolve([]));
    // Read from Kafka: known from then on, for every kind.
    hub.publish('predictions', prediction({ symbol: 'ETHUSDT' }));
    send(conn, { op: 'subscribe', channel: 'features:ETHUSDT', id: 'f' });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'subscribed', channel: 'features:ETHUSDT', id: 'f' });
  });

  it('refuses a new channel (too_many_channels) when the cap is reached and every channel has subscribers; a member-less one makes room', async () => {
    const { hub, registry } = setup({ maxChannels: 2 });
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:AA' });
    send(conn, { op: 'subscribe', channel: 'predictions:BB' });
    send(conn, { op: 'subscribe', channel: 'predictions:CC', id: 3 });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'error', code: 'ERR_WS_PROTOCOL', reason: 'too_many_channels', id: 3 });
    // A record for a channel that cannot exist has nobody to go to: dropped, nothing breaks.
    expect(() => hub.publish('predictions', prediction({ symbol: 'DD' }))).not.toThrow();
    expect(hub.channelCount()).toBe(2);
    send(conn, { op: 'unsubscribe', channel: 'predictions:AA' });
    send(conn, { op: 'subscribe', channel: 'predictions:CC', id: 4 });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'subscribed', channel: 'predictions:CC', id: 4 });
    expect(hub.channelCount()).toBe(2);
    expect(await metric(registry, 'bitpredict_gateway_ws_channels_evicted_total', { reason: 'cap' })).toBe(1);
    // Still served: BB kept its subscriber and its seq.
    hub.publish('predictions', prediction({ symbol: 'BB' }));
    expect(socket.last()).toMatchObject({ type: 'prediction', channel: 'predictions:BB', seq: 1 });
  });

  it('at the cap, deletes the member-less channel whose last message or subscriber is oldest', async () => {
    let t = 1000;
    const { hub } = setup({ maxChannels: 3, now: () => t });
    for (const sym of ['OLD', 'MID', 'NEW']) {
      hub.publish('predictions', prediction({ symbol: sym }));
      t += 10;
    }
    // OLD gets a message again: MID is now the one idle longest, and makes room for FOURTH.
    hub.publish('predictions', prediction({ symbol: 'OLD' }));
    hub.publish('predictions', prediction({ symbol: 'FOURTH' }));
    expect(hub.channelCount()).toBe(3);
    const c = connect(hub);
    // OLD kept its ring: a resume by seq replays both of its messages.
    send(c.conn, { op: 'subscribe', channel: 'predictions:OLD', resume: { epoch: 'e1', seq: 0 } });
    await flush();
    expect(c.socket.messages()[1]).toMatchObject({ type: 'subscribed', channel: 'predictions:OLD', resumed: true, replayed: 2 });
    // MID's channel is new: its message is gone, the resume point is ahead of it.
    send(c.conn, { op: 'subscribe', channel: 'predictions:MID', resume: { epoch: 'e1', seq: 1 } });
    await flush();
    expect(c.socket.messages()[4]).toMatchObject({ type: 'gap', channel: 'predictions:MID', reason: 'ahead', to: 0 });
  });

  it('deletes a channel with no member and no message for channelIdleMs; one with a member stays', async () => {
    vi.useFakeTimers();
    let t = 1_000_000;
    const { hub, registry } = setup({ channelIdleMs: 1000, now: () => t });
    const { conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:KEEP' });
    send(conn, { op: 'subscribe', channel: 'predictions:GONE' });
    send(conn, { op: 'unsubscribe', channel: 'predictions:GONE' });
    await vi.advanceTimersByTimeAsync(0);
    hub.publish('predictions', prediction({ symbol: 'QUIET' }));
    expect(hub.channelCount()).toBe(3);
    t += 1000;
    await vi.advanceTimersByTimeAsync(1000);
    expect(hub.channelCount()).toBe(1);
    expect(await metric(registry, 'bitpredict_gateway_ws_channels')).toBe(1);
    expect(await metric(registry, 'bitpredict_gateway_ws_channels_evicted_total', { reason: 'idle' })).toBe(2);
  });
});

describe('resume across replicas by Kafka position', () => {
  const pos = (partition: number, offset: number) => ({ partition, offset });
  /** A prediction of interval `interval` at hour i. */
  const p = (i: number, interval = '1h') => prediction({ eventTime: i, interval });
  const pushed = (s: FakeSocket) => s.messages().filter((m) => m.type === 'prediction');

  it('carries the position in each message and the cursor in subscribed, and ignores a redelivered position', async () => {
    const { hub } = setup();
    const { socket, conn } = connect(hub);
    hub.publish('predictions', p(1), pos(0, 10));
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    expect(socket.last()).toMatchObject({ type: 'subscribed', seq: 1, cursor: { '0': 10 } });
    hub.publish('predictions', p(2), pos(0, 11));
    hub.publish('predictions', p(2), pos(0, 11));
    hub.publish('predictions', p(1), pos(0, 10));
    expect(pushed(socket)).toEqual([{ type: 'prediction', channel: 'predictions:BTCUSDT', seq: 2, pos: [0, 11], data: p(2) }]);
  });

  it('takes an offset below the first one read as a partition that started over: published, and no cursor from before resumes on it', async () => {
    const { hub } = setup({ epoch: 'B' });
    const { socket, conn } = connect(hub);
    send(conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    hub.publish('predictions', p(1), pos(0, 500));
    hub.publish('predictions', p(2), pos(0, 0));
    hub.publish('predictions', p(3), pos(0, 1));
    expect(pushed(socket).map((m) => m.pos)).toEqual([
      [0, 500],
      [0, 0],
      [0, 1],
    ]);
    const c = connect(hub);
    send(c.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'A', seq: 1, cursor: { '0': 500 } } });
    await flush();
    expect(c.socket.messages()[1]).toMatchObject({ type: 'gap', reason: 'evicted' });
  });

  it('a client of replica A resumes on replica B with its cursor: exactly the records it missed, in order, none twice', async () => {
    const a = setup({ epoch: 'A' }).hub;
    const b = setup({ epoch: 'B' }).hub;
    // Two partitions: the 1h and the 1m series of BTCUSDT; other symbols' records take offsets too.
    const records: [Prediction, { partition: number; offset: number }][] = [];
    let o0 = 100;
    let o1 = 500;
    for (let i = 0; i < 20; i++) {
      if (i % 3 === 0) records.push([prediction({ symbol: 'ETHUSDT', eventTime: i }), pos(0, o0++)]);
      records.push(i % 2 ? [p(i, '1m'), pos(1, o1++)] : [p(i), pos(0, o0++)]);
    }
    const c1 = connect(a);
    send(c1.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    const sub = c1.socket.last() as { cursor: Record<string, number> };
    // B has read the first 4 records too (it was running already); A delivers 12, then the client drops.
    for (const [v, at] of records.slice(0, 4)) b.publish('predictions', v, at);
    for (const [v, at] of records.slice(0, 12)) a.publish('predictions', v, at);
    const got = pushed(c1.socket);
    const cursor = { ...sub.cursor };
    for (const m of got) {
      const [pp, oo] = m.pos as [number, number];
      cursor[String(pp)] = Math.max(cursor[String(pp)] ?? -1, oo);
    }
    const last = got.at(-1)?.seq as number;
    c1.conn.closed();
    // B has read up to record 9 when the client arrives: it lags A. Then both go on.
    for (const [v, at] of records.slice(4, 9)) b.publish('predictions', v, at);
    const c2 = connect(b);
    send(c2.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'A', seq: last, cursor } });
    await flush();
    expect(c2.socket.messages()[1]).toMatchObject({ type: 'subscribed', resumed: true, replayed: 0 });
    for (const [v, at] of records.slice(9)) b.publish('predictions', v, at);
    const all = [...got, ...pushed(c2.socket)].map((m) => (m.data as Prediction).eventTime);
    const expected = records.filter(([v]) => v.symbol === 'BTCUSDT').map(([v]) => v.eventTime);
    expect(all).toEqual(expected);
  });

  it('replays from the ring what the client missed when the new replica is ahead', async () => {
    const a = setup({ epoch: 'A' }).hub;
    const b = setup({ epoch: 'B' }).hub;
    const c1 = connect(a);
    send(c1.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT' });
    await flush();
    for (let i = 0; i < 6; i++) b.publish('predictions', p(i, i % 2 ? '1m' : '1h'), pos(i % 2, 10 + i));
    for (let i = 0; i < 3; i++) a.publish('predictions', p(i, i % 2 ? '1m' : '1h'), pos(i % 2, 10 + i));
    const c2 = connect(b);
    send(c2.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'A', seq: 3, cursor: { '0': 12, '1': 11 } }, id: 'x' });
    await flush();
    const msgs = c2.socket.messages().slice(1);
    expect(msgs[0]).toEqual({ type: 'subscribed', channel: 'predictions:BTCUSDT', seq: 6, resumed: true, replayed: 3, cursor: { '0': 14, '1': 15 }, id: 'x' });
    expect(msgs.slice(1).map((m) => [m.seq, m.pos])).toEqual([
      [4, [1, 13]],
      [5, [0, 14]],
      [6, [1, 15]],
    ]);
  });

  it('answers a gap when the new replica started reading after the cursor, or its ring lost what the client missed', async () => {
    const b = setup({ epoch: 'B', replayBuffer: 2 }).hub;
    for (let i = 0; i < 5; i++) b.publish('predictions', p(i), pos(0, 50 + i));
    const late = connect(b);
    // The client's point is before offset 50, where B began reading partition 0.
    send(late.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'A', seq: 1, cursor: { '0': 40 } } });
    await flush();
    expect(late.socket.messages()[1]).toMatchObject({ type: 'gap', reason: 'epoch', from: null, to: 5 });
    expect(late.socket.messages()[2]).toMatchObject({ type: 'subscribed', seq: 5, cursor: { '0': 54 } });
    // B read it, but its ring of 2 no longer has offset 52.
    const evicted = connect(b);
    send(evicted.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'A', seq: 1, cursor: { '0': 51 } } });
    await flush();
    expect(evicted.socket.messages()[1]).toMatchObject({ type: 'gap', reason: 'evicted' });
    // A partition B has not read at all: it cannot know whether it will read from the client's point.
    const unread = connect(b);
    send(unread.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'A', seq: 1, cursor: { '0': 54, '1': 3 } } });
    await flush();
    expect(unread.socket.messages()[1]).toMatchObject({ type: 'gap', reason: 'epoch' });
    // Messages without a position (none here from Kafka) cannot be placed by a cursor either.
    const local = setup({ epoch: 'C' }).hub;
    local.publish('predictions', p(1));
    const c = connect(local);
    send(c.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'A', seq: 1, cursor: { '0': 1 } } });
    await flush();
    expect(c.socket.messages()[1]).toMatchObject({ type: 'gap', reason: 'epoch' });
  });

  it('a channel made again after an eviction cannot vouch for the partitions the client has no record from', async () => {
    const { hub } = setup({ epoch: 'B', maxChannels: 1 });
    hub.publish('predictions', p(1), pos(0, 10));
    hub.publish('predictions', prediction({ symbol: 'ETHUSDT' }), pos(1, 20));
    // BTCUSDT's channel made room for ETHUSDT's; its record at 0:10 is gone with it.
    hub.publish('predictions', p(2), pos(1, 21));
    const c = connect(hub);
    send(c.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'A', seq: 1, cursor: { '1': 20 } } });
    await flush();
    expect(c.socket.messages()[1]).toMatchObject({ type: 'gap', reason: 'evicted' });
    // Without an eviction, a partition the client has nothing from is replayed in full.
    const fresh = setup({ epoch: 'B2' }).hub;
    fresh.publish('predictions', prediction({ symbol: 'ETHUSDT' }), pos(0, 5));
    fresh.publish('predictions', p(1), pos(0, 10));
    fresh.publish('predictions', p(2), pos(1, 21));
    const d = connect(fresh);
    send(d.conn, { op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'A', seq: 1, cursor: { '1': 21 } } });
    await flush();
    expect(d.socket.messages()[1]).toMatchObject({ type: 'subscribed', resumed: true, replayed: 1 });
    expect(pushed(d.socket).map((m) => m.pos)).toEqual([[0, 10]]);
  });

  it.each([
    ['not an object', 5],
    ['an array', [1, 2]],
    ['a non-numeric partition', { x: 1 }],
    ['a negative partition', { '-1': 1 }],
    ['a partition with a leading zero', { '01': 1 }],
    ['an offset below -1', { '0': -2 }],
    ['a fractional offset', { '0': 1.5 }],
    ['a string offset', { '0': '7' }],
    ['too many partitions', Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [String(i), 1]))],
  ])('refuses a resume cursor that is %s (bad_resume)', (_, cursor) => {
    const r = parseClientMessage(JSON.stringify({ op: 'subscribe', channel: 'predictions:BTCUSDT', resume: { epoch: 'e', seq: 1, cursor } }));
    expect(r).toMatchObject({ ok: false, reason: 'bad_resume' });
  });
});
