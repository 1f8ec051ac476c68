import { describe, expect, it } from 'vitest';
import { createStream, type ConnState, type ProbeVerdict, type SocketLike, type StreamHandlers } from './stream.js';
import type { ChannelKind } from './protocol.js';

/** A socket the test drives: it records what the client sent and delivers what the test says. */
class FakeSocket implements SocketLike {
  readyState = 1;
  sent: Record<string, unknown>[] = [];
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  deliver(msg: unknown): void {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }
  subscribes(): Record<string, unknown>[] {
    return this.sent.filter((m) => m.op === 'subscribe');
  }
}

const KINDS: ChannelKind[] = ['candles', 'features', 'predictions', 'scores'];

function harness(probe: ProbeVerdict = 'ok') {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number; id: number }[] = [];
  const states: [ConnState, string][] = [];
  const records: [ChannelKind, unknown][] = [];
  const snapshots: [ChannelKind, readonly unknown[]][] = [];
  const gaps: ChannelKind[] = [];
  const problems: string[] = [];
  let subscribedCalls = 0;
  let now = 0;
  let nextId = 1;
  const handlers: StreamHandlers = {
    onRecord: (k, d) => records.push([k, d]),
    onSnapshot: (k, items) => snapshots.push([k, items]),
    onGap: (k) => {
      gaps.push(k);
      return Promise.resolve(true);
    },
    onSubscribed: () => subscribedCalls++,
    onState: (s, w) => states.push([s, w]),
    onProblem: (w) => problems.push(w),
    probe: () => Promise.resolve(probe),
  };
  const stream = createStream({
    open: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.push({ fn, ms, id });
      return id;
    },
    clearTimeout: (id) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
    random: () => 0,
    now: () => now,
    handlers,
  });
  /** Runs the pending timer that fires after `ms` (the reconnect), as the clock would. */
  const fire = (ms: number): void => {
    const i = timers.findIndex((t) => t.ms === ms);
    if (i < 0) throw new Error(`no timer of ${ms} ms among ${timers.map((t) => t.ms).join(', ')}`);
    const [t] = timers.splice(i, 1);
    now += ms;
    t!.fn();
  };
  const handshake = (sock: FakeSocket, epoch: string, answer: (channel: string, i: number) => unknown[]): void => {
    sock.deliver({ type: 'hello', protocol: 2, epoch, channels: [] });
    const subs = sock.subscribes().slice(-4);
    subs.forEach((s, i) => {
      for (const m of answer(s.channel as string, i)) sock.deliver(m);
    });
  };
  const fresh = (seq: number) => (channel: string) => [{ type: 'subscribed', channel, seq, snapshot: [{ n: channel }] }];
  return {
    stream,
    sockets,
    timers,
    states,
    records,
    snapshots,
    gaps,
    problems,
    fire,
    handshake,
    fresh,
    subscribed: () => subscribedCalls,
    tick: (ms: number) => (now += ms),
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('the stream client', () => {
  it('subscribes to the four channels of the symbol after hello, takes the snapshots and is live', async () => {
    const h = harness();
    h.stream.start('BTCUSDT');
    expect(h.states[0]).toEqual(['connecting', 'connecting']);
    h.handshake(h.sockets[0]!, 'e1', h.fresh(10));
    expect(h.sockets[0]!.subscribes().map((s) => s.channel)).toEqual(KINDS.map((k) => `${k}:BTCUSDT`));
    expect(h.sockets[0]!.subscribes().every((s) => s.resume === undefined)).toBe(true);
    expect(h.snapshots.map(([k]) => k)).toEqual(KINDS);
    expect(h.subscribed()).toBe(1);
    await flush();
    expect(h.states.at(-1)).toEqual(['live', 'connected']);
  });

  it('passes each pushed record once, in order, dropping a repeated seq', () => {
    const h = harness();
    h.stream.start('BTCUSDT');
    h.handshake(h.sockets[0]!, 'e1', h.fresh(10));
    const s = h.sockets[0]!;
    s.deliver({ type: 'candle', channel: 'candles:BTCUSDT', seq: 11, data: 'a' });
    s.deliver({ type: 'candle', channel: 'candles:BTCUSDT', seq: 11, data: 'a again' });
    s.deliver({ type: 'candle', channel: 'candles:BTCUSDT', seq: 12, data: 'b' });
    s.deliver({ type: 'feature', channel: 'features:ETHUSDT', seq: 11, data: 'other symbol' });
    expect(h.records).toEqual([
      ['candles', 'a'],
      ['candles', 'b'],
    ]);
    expect(h.gaps).toEqual([]);
  });

  it('refills from REST when seqs jump (a hole), and still passes the message', () => {
    const h = harness();
    h.stream.start('BTCUSDT');
    h.handshake(h.sockets[0]!, 'e1', h.fresh(10));
    h.sockets[0]!.deliver({ type: 'prediction', channel: 'predictions:BTCUSDT', seq: 15, data: 'p' });
    expect(h.gaps).toEqual(['predictions']);
    expect(h.records).toEqual([['predictions', 'p']]);
    expect(h.problems.join()).toMatch(/lost/);
  });

  it('reports malformed frames and error replies without throwing', () => {
    const h = harness();
    h.stream.start('BTCUSDT');
    h.handshake(h.sockets[0]!, 'e1', h.fresh(10));
    h.sockets[0]!.deliver('{"type":"candle",');
    h.sockets[0]!.deliver({ type: 'error', code: 'ERR_WS_PROTOCOL', reason: 'bad_channel', message: 'bad channel' });
    expect(h.problems).toEqual(['ignored a message outside the protocol (not JSON)', 'the gateway refused a request: bad channel']);
  });

  it('reconnects with backoff after a drop and resumes each channel from its last seq', async () => {
    const h = harness();
    h.stream.start('BTCUSDT');
    h.handshake(h.sockets[0]!, 'e1', h.fresh(10));
    h.sockets[0]!.deliver({ type: 'candle', channel: 'candles:BTCUSDT', seq: 11, data: 'a' });
    h.sockets[0]!.close(1006);
    expect(h.states.at(-1)).toEqual(['reconnecting', 'connection lost or refused; retry in 1 s']);
    h.fire(250);
    const s2 = h.sockets[1]!;
    h.handshake(s2, 'e1', (channel) => [{ type: 'subscribed', channel, seq: channel.startsWith('candles') ? 11 : 10, resumed: true, replayed: 0 }]);
    expect(s2.subscribes().map((m) => m.resume)).toEqual([
      { epoch: 'e1', seq: 11 },
      { epoch: 'e1', seq: 10 },
      { epoch: 'e1', seq: 10 },
      { epoch: 'e1', seq: 10 },
    ]);
    // A resume replays instead of sending a snapshot.
    expect(h.snapshots).toHaveLength(4);
    await flush();
    expect(h.states.at(-1)?.[0]).toBe('resumed');
    s2.deliver({ type: 'candle', channel: 'candles:BTCUSDT', seq: 12, data: 'b' });
    expect(h.records.map(([, d]) => d)).toEqual(['a', 'b']);
  });

  it('after a restart of the gateway (gap, reason epoch) refills from REST and says the gap was filled', async () => {
    const h = harness();
    h.stream.start('BTCUSDT');
    h.handshake(h.sockets[0]!, 'e1', h.fresh(10));
    h.sockets[0]!.close(1001);
    h.fire(250);
    h.handshake(h.sockets[1]!, 'e2', (channel) => [
      { type: 'gap', channel, reason: 'epoch', from: null, to: 3, epoch: 'e2' },
      { type: 'subscribed', channel, seq: 3, snapshot: [] },
    ]);
    expect(h.gaps).toEqual(KINDS);
    await flush();
    expect(h.states.at(-1)).toEqual(['resumed-gap-filled', 'reconnected; missed data refilled from REST']);
    // The new epoch's seqs count from the new subscription.
    h.sockets[1]!.deliver({ type: 'score', channel: 'scores:BTCUSDT', seq: 4, data: 's' });
    expect(h.records).toEqual([['scores', 's']]);
    expect(h.gaps).toEqual(KINDS);
  });

  it('stops on a revoked key (4001): unauthorized, no retry', () => {
    const h = harness();
    h.stream.start('BTCUSDT');
    h.handshake(h.sockets[0]!, 'e1', h.fresh(10));
    h.sockets[0]!.close(4001);
    expect(h.states.at(-1)).toEqual(['unauthorized', 'API key revoked: enter a new key']);
    expect(h.timers.filter((t) => t.ms === 250)).toEqual([]);
  });

  it('asks REST why a connection failed: a refused key stops the retries, a dead gateway is offline', async () => {
    const refused = harness('unauthorized');
    refused.stream.start('BTCUSDT');
    refused.sockets[0]!.close(1006);
    await flush();
    expect(refused.states.at(-1)).toEqual(['unauthorized', 'the API key was refused']);
    expect(refused.timers.filter((t) => t.ms === 250)).toEqual([]);

    const down = harness('offline');
    down.stream.start('BTCUSDT');
    down.sockets[0]!.close(1006);
    await flush();
    expect(down.states.at(-1)?.[0]).toBe('offline');
    down.fire(250);
    expect(down.sockets).toHaveLength(2);
  });

  it('moves to another symbol on the same connection: unsubscribe, then fresh subscriptions', () => {
    const h = harness();
    h.stream.start('BTCUSDT');
    h.handshake(h.sockets[0]!, 'e1', h.fresh(10));
    const s = h.sockets[0]!;
    s.sent = [];
    h.stream.switchSymbol('ETHUSDT');
    expect(s.sent.filter((m) => m.op === 'unsubscribe').map((m) => m.channel)).toEqual(KINDS.map((k) => `${k}:BTCUSDT`));
    expect(s.subscribes().map((m) => [m.channel, m.resume])).toEqual(KINDS.map((k) => [`${k}:ETHUSDT`, undefined]));
    // A late answer for the old symbol is undone, not shown.
    s.deliver({ type: 'subscribed', channel: 'candles:BTCUSDT', seq: 1, snapshot: ['old'] });
    expect(s.sent.at(-1)).toEqual({ op: 'unsubscribe', channel: 'candles:BTCUSDT' });
    expect(h.snapshots.some(([, items]) => items[0] === 'old')).toBe(false);
  });

  it('closes a connection that has been silent too long, and reconnects', () => {
    const h = harness();
    h.stream.start('BTCUSDT');
    h.handshake(h.sockets[0]!, 'e1', h.fresh(10));
    h.fire(25_000);
    expect(h.sockets[0]!.sent.at(-1)).toEqual({ op: 'ping' });
    h.fire(25_000);
    h.fire(25_000);
    expect(h.sockets[0]!.readyState).toBe(3);
    expect(h.states.at(-1)?.[0]).toBe('reconnecting');
  });
});
