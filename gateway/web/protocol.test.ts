import { describe, expect, it } from 'vitest';
import { backoffDelay, closeMeaning, parseServerMessage, reconnectState, seqStep, splitChannel, subscribeRequest } from './protocol.js';

describe('server frames', () => {
  it('reads the protocol messages', () => {
    expect(parseServerMessage('{"type":"hello","protocol":2,"epoch":"e1","channels":[]}')).toEqual({ type: 'hello', epoch: 'e1' });
    expect(parseServerMessage('{"type":"subscribed","channel":"candles:BTCUSDT","seq":41,"resumed":true,"replayed":3,"id":1}')).toEqual({
      type: 'subscribed',
      channel: 'candles:BTCUSDT',
      seq: 41,
      resumed: true,
      replayed: 3,
      snapshot: [],
      snapshotError: false,
    });
    expect(parseServerMessage('{"type":"gap","channel":"predictions:BTCUSDT","reason":"epoch","from":null,"to":1530,"epoch":"e2"}')).toEqual({
      type: 'gap',
      channel: 'predictions:BTCUSDT',
      reason: 'epoch',
      from: null,
      to: 1530,
    });
    expect(parseServerMessage('{"type":"candle","channel":"candles:BTCUSDT","seq":7,"data":{"x":1}}')).toEqual({
      type: 'push',
      kind: 'candles',
      channel: 'candles:BTCUSDT',
      seq: 7,
      data: { x: 1 },
    });
    expect(parseServerMessage('{"type":"score","channel":"scores:ETHUSDT","seq":1,"data":null}')).toMatchObject({ type: 'push', kind: 'scores' });
  });

  it('calls malformed frames invalid, with a reason, and never throws', () => {
    const bad: [unknown, RegExp][] = [
      ['{"type":"candle","channel":"candles:BTCUSDT","seq":7', /not JSON/],
      ['', /not JSON/],
      ['[1,2]', /no type/],
      ['null', /no type/],
      [new ArrayBuffer(4), /not a text frame/],
      ['{"type":"hello"}', /hello without epoch/],
      ['{"type":"candle","channel":"candles:BTCUSDT","data":{}}', /without channel or seq/],
      ['{"type":"candle","channel":"candles:BTCUSDT","seq":1.5,"data":{}}', /without channel or seq/],
      ['{"type":"candle","channel":"candles:BTCUSDT","seq":1e999,"data":{}}', /without channel or seq/],
      ['{"type":"candle","channel":"features:BTCUSDT","seq":1,"data":{}}', /candle on channel features:BTCUSDT/],
      ['{"type":"subscribed","channel":"candles:BTCUSDT","seq":-1}', /subscribed without/],
      ['{"type":"toString","channel":"candles:BTCUSDT","seq":1}', /unknown type/],
      ['{"type":"__proto__","channel":"candles:BTCUSDT","seq":1}', /unknown type/],
    ];
    for (const [frame, reason] of bad) {
      const m = parseServerMessage(frame);
      expect(m.type, String(frame)).toBe('invalid');
      expect(m.type === 'invalid' ? m.reason : '', String(frame)).toMatch(reason);
    }
  });

  it('splits channel names and refuses strange ones', () => {
    expect(splitChannel('predictions:BTCUSDT')).toEqual({ kind: 'predictions', symbol: 'BTCUSDT' });
    for (const c of ['trades:BTCUSDT', 'candles:btcusdt', 'candles:', ':BTCUSDT', 'candles']) expect(splitChannel(c), c).toBeNull();
  });
});

describe('resume decisions', () => {
  it('takes the next seq, drops a repeat, and reports a hole', () => {
    expect(seqStep(41, 42)).toBe('next');
    expect(seqStep(41, 41)).toBe('duplicate');
    expect(seqStep(41, 3)).toBe('duplicate');
    expect(seqStep(41, 44)).toBe('hole');
    expect(seqStep(null, 9)).toBe('next');
  });

  it('subscribes with the resume point when there is one, also across epochs', () => {
    expect(subscribeRequest('candles:BTCUSDT', undefined, 1)).toEqual({ op: 'subscribe', channel: 'candles:BTCUSDT', id: 1 });
    expect(subscribeRequest('candles:BTCUSDT', { epoch: 'old', seq: 41 }, 2)).toEqual({
      op: 'subscribe',
      channel: 'candles:BTCUSDT',
      id: 2,
      resume: { epoch: 'old', seq: 41 },
    });
  });

  it('names the state after a reconnect from how each channel answered', () => {
    expect(reconnectState(['fresh', 'fresh'], true)).toBe('live');
    expect(reconnectState(['resumed', 'resumed', 'resumed', 'resumed'], false)).toBe('resumed');
    expect(reconnectState(['resumed', 'gap', 'resumed', 'resumed'], false)).toBe('resumed-gap-filled');
    expect(reconnectState(['fresh', 'fresh'], false)).toBe('live');
  });

  it('backs off exponentially with jitter, within 0.25 s .. 30 s', () => {
    expect(backoffDelay(1, 0)).toBe(250);
    expect(backoffDelay(1, 1)).toBe(1250);
    expect(backoffDelay(3, 1)).toBe(4250);
    expect(backoffDelay(30, 1)).toBe(30_000);
    expect(backoffDelay(2, 0.5)).toBe(1250);
    expect(backoffDelay(2, NaN)).toBe(1250);
  });

  it('stops retrying on a revoked key (4001), retries otherwise', () => {
    expect(closeMeaning(4001)).toBe('revoked');
    for (const code of [1001, 1006, 4000, 4008, 4029, 3000]) expect(closeMeaning(code), String(code)).toBe('retry');
  });
});
