import { describe, expect, it } from 'vitest';
import { createBoundedTextIndex, type EvictReason } from './text-bound.js';
import { createTextIndex, type TextIndexItem, type TextWindowAggregate } from './text-index.js';
import { mulberry32 } from '../random.js';

const H = 3_600_000;
const W = 4 * H;

function item(id: string, publishedAt: number, compound = 0.1, finbert: number | null = null): TextIndexItem {
  return { id, publishedAt, compound, finbert };
}

function evictions(): { counts: Record<EvictReason, number>; onEvict(reason: EvictReason, n: number): void } {
  const counts: Record<EvictReason, number> = { time: 0, cap: 0 };
  return { counts, onEvict: (reason, n) => void (counts[reason] += n) };
}

const FIELDS = ['textCount', 'vaderMean', 'vaderStd', 'vaderPosShare', 'vaderNegShare', 'finbertCount', 'finbertMean'] as const;
function same(a: TextWindowAggregate, b: TextWindowAggregate): boolean {
  return FIELDS.every((f) => Object.is(a[f], b[f]));
}

describe('createBoundedTextIndex: the count cap', () => {
  it('holds at most maxTexts whatever the topic holds, dropping the oldest first and counting them', () => {
    const ev = evictions();
    const b = createBoundedTextIndex({ windowMs: W, marginMs: H, maxTexts: 1000, onEvict: ev.onEvict });
    let largest = 0;
    const times: number[] = [];
    // 100 times the cap, published one second apart, a few out of order.
    for (let i = 0; i < 100_000; i++) {
      const t = 1_700_000_000_000 + (i % 97 === 0 ? i - 50 : i) * 1000;
      times.push(t);
      b.add(item(`id-${i}`, t));
      largest = Math.max(largest, b.index.size);
    }
    expect(largest).toBe(1000);
    expect(b.index.size).toBe(1000);
    expect(ev.counts).toEqual({ time: 0, cap: 99_000 });
    // What is left is the newest 1000: a recent window is whole, an older one empty.
    const last = 1_700_000_000_000 + 99_999 * 1000;
    expect(b.index.aggregate(last, 500 * 1000).textCount).toBe(times.filter((t) => t > last - 500 * 1000 && t <= last).length);
    expect(b.index.aggregate(last - 1100 * 1000, W).textCount).toBe(0);
  });

  it('keeps a future-dated text when the cap bites (it is the newest), and counts it only once a window reaches it', () => {
    const b = createBoundedTextIndex({ windowMs: W, marginMs: H, maxTexts: 3 });
    const t0 = 1_700_000_000_000;
    expect(b.add(item('future', t0 + 30 * 24 * H))).toBe('added');
    for (let i = 0; i < 5; i++) b.add(item(`now-${i}`, t0 + i));
    expect(b.index.size).toBe(3);
    expect(b.index.aggregate(t0 + 10, W).textCount).toBe(2); // now-3, now-4; now-0..2 dropped by the cap
    expect(b.index.aggregate(t0 + 30 * 24 * H, W).textCount).toBe(1);
    // Time eviction never takes it either: it is ahead of every candle.
    b.noteCandle('BTCUSDT:1h', t0 + 10 * 24 * H);
    expect(b.index.aggregate(t0 + 30 * 24 * H, W).textCount).toBe(1);
  });
});

describe('createBoundedTextIndex: eviction by time', () => {
  it('evicts only behind min over series of the newest candle - W - margin, and refuses texts behind it as expired', () => {
    const ev = evictions();
    const b = createBoundedTextIndex({ windowMs: W, marginMs: H, maxTexts: 1_000_000, onEvict: ev.onEvict });
    const t0 = 1_700_000_000_000;
    for (let h = 0; h < 48; h++) b.add(item(`h${h}`, t0 + h * H));
    expect(b.horizon).toBeNull();
    b.noteCandle('BTCUSDT:1h', t0 + 40 * H);
    // Horizon t0 + 40h - 4h - 1h = t0 + 35h: h0..h35 go.
    expect(b.horizon).toBe(t0 + 35 * H);
    expect(b.index.size).toBe(12);
    // A second series further behind holds the horizon back from now on (nothing comes back).
    b.noteCandle('ETHUSDT:1h', t0 + 20 * H);
    expect(b.horizon).toBe(t0 + 15 * H);
    b.noteCandle('BTCUSDT:1h', t0 + 47 * H);
    expect(b.index.size).toBe(12);
    // An older candle of a series (refused upstream) does not move its newest.
    b.noteCandle('ETHUSDT:1h', t0 + 10 * H);
    expect(b.horizon).toBe(t0 + 15 * H);
    expect(b.add(item('old', t0 + 15 * H))).toBe('expired');
    expect(b.add(item('just-after', t0 + 15 * H + 1))).toBe('added');
    b.noteCandle('ETHUSDT:1h', t0 + 45 * H);
    expect(b.horizon).toBe(t0 + 40 * H);
    expect(ev.counts.time).toBe(36 + 5 + 1);
    expect(b.index.size).toBe(7); // h41..h47
  });

  it('a restore floor refuses texts at or before it, and only ever raises the horizon', () => {
    const b = createBoundedTextIndex({ windowMs: W, marginMs: H, maxTexts: 10 });
    const t0 = 1_700_000_000_000;
    b.setFloor(t0);
    expect(b.add(item('at', t0))).toBe('expired');
    expect(b.add(item('after', t0 + 1))).toBe('added');
    b.setFloor(t0 - H);
    expect(b.horizon).toBe(t0);
    // Candles older than the floor do not lower it.
    b.noteCandle('BTCUSDT:1h', t0 + H);
    expect(b.horizon).toBe(t0);
    b.noteCandle('BTCUSDT:1h', t0 + 10 * H);
    expect(b.horizon).toBe(t0 + 5 * H);
  });

  it('keeps bad input a clear ERR_VALIDATION, not an expiry', () => {
    const b = createBoundedTextIndex({ windowMs: W, marginMs: 0, maxTexts: 10 });
    b.setFloor(1000);
    expect(() => b.add(item('nan', Number.NaN))).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION' }));
    expect(() => b.add(item('bad', 5000, 3))).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION' }));
    expect(() => b.index.evictOldest(-1)).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION' }));
  });

  it('never removes a text still inside a window to come: every vector equals the unbounded index, series interleaved, texts out of order, late, duplicated and future-dated', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rand = mulberry32(seed);
      const ev = evictions();
      // A small margin, so the rule itself (not a generous margin) is what is tested.
      const b = createBoundedTextIndex({ windowMs: W, marginMs: 0, maxTexts: 1_000_000, onEvict: ev.onEvict });
      const reference = createTextIndex();
      const t0 = 1_700_000_000_000;
      // Three series, each in order, at different positions in time (one lags by two days).
      const next = new Map([
        ['BTCUSDT:1h', t0 + 48 * H],
        ['ETHUSDT:1h', t0],
        ['SOLUSDT:15m', t0 + 24 * H],
      ]);
      const step = new Map([
        ['BTCUSDT:1h', H],
        ['ETHUSDT:1h', H],
        ['SOLUSDT:15m', H / 4],
      ]);
      // Every series is known from the start (a series first seen later is covered by the margin only).
      for (const [series, t] of next) b.noteCandle(series, t - (step.get(series) as number));
      let textClock = t0 - W;
      let checked = 0;
      let previous: TextIndexItem | null = null;
      for (let i = 0; i < 3000; i++) {
        if (rand() < 0.7) {
          // A text: mostly in publication order, some out of order (up to 2 h late), some far in
          // the past (behind every window), some future-dated, some re-delivered.
          textClock += Math.floor(rand() * 10 * 60_000);
          const r = rand();
          const publishedAt = r < 0.1 ? textClock - Math.floor(rand() * 2 * H) : r < 0.13 ? t0 - 30 * 24 * H : r < 0.16 ? textClock + 20 * 24 * H : textClock;
          // A re-delivery is the same record again (as Kafka would give it).
          const text: TextIndexItem =
            r > 0.97 && previous !== null
              ? previous
              : item(`t${i}`, publishedAt, Math.round((rand() * 2 - 1) * 1e6) / 1e6, rand() < 0.3 ? Math.round((rand() * 2 - 1) * 1e6) / 1e6 : null);
          previous = text;
          // The reference holds every text, also those the bound refuses: they must never be missed.
          reference.add(text);
          if (b.add(text) === 'expired') expect(text.publishedAt).toBeLessThanOrEqual(b.horizon as number);
        } else {
          const series = [...next.keys()][Math.floor(rand() * next.size)] as string;
          const t = next.get(series) as number;
          next.set(series, t + (step.get(series) as number));
          if (!same(b.index.aggregate(t, W), reference.aggregate(t, W))) throw new Error(`seed ${seed}: ${series} at ${t} differs from the unbounded index`);
          checked++;
          b.noteCandle(series, t);
        }
      }
      expect(checked).toBeGreaterThan(500);
      // The bound did work: the index holds far fewer texts than were read.
      expect(ev.counts.time).toBeGreaterThan(0);
      expect(b.index.size).toBeLessThan(reference.size);
    }
  });
});
