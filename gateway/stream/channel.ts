// The channels of one hub: each channel's sequence numbers, its replay ring and its members, and
// the decision whether a resume can be served from the ring or has to be told of a gap.
//
// Invariants:
// - A channel's seqs are 1, 2, 3... with no holes: a seq is taken only once its message has been
//   serialised, so a value that cannot be serialised never leaves a number nobody will see.
// - Seq s lives at ring[s % ringSize] until ringSize newer messages overwrite it; the ring holds
//   the same Buffer that was sent live, so a replay is byte for byte what the subscribers got.
// - One epoch names the numbering of every channel of the hub: a resume point from another epoch
//   (another instance, a restart) means nothing here and always gets a gap.
import type { HubMetrics } from './metrics.js';
import type { ChannelKind, ResumePoint } from './protocol.js';

export const DEFAULT_REPLAY_BUFFER = 1000;

/** One channel's sequence and replay ring: seq s lives at ring[s % ring.length]. */
export interface Channel<M> {
  readonly name: string;
  readonly kind: ChannelKind;
  readonly symbol: string;
  seq: number;
  readonly ring: (Buffer | undefined)[];
  /** Who receives the channel's live messages. */
  readonly members: Set<M>;
}

/** Why a resume point cannot be served from the ring. */
export type GapReason = 'epoch' | 'ahead' | 'evicted';

export type ResumeOutcome = { replay: true } | { replay: false; reason: GapReason; from: number | null; to: number };

export interface Channels<M> {
  /** The name of this hub's numbering, sent in hello and expected back in a resume point. */
  readonly epoch: string;
  /** The channel named `<kind>:<symbol>`, created with seq 0 and an empty ring on first use. */
  of(kind: ChannelKind, symbol: string, name?: string): Channel<M>;
  /**
   * Numbers the channel's next message and keeps it for replay. `encode` gets the seq the message
   * will carry; if it throws, the seq is not taken and nothing is kept.
   */
  push(ch: Channel<M>, encode: (seq: number) => Buffer): Buffer;
  /** Whether every message after `point` is still in the ring, else the gap the client is told of. */
  resume(ch: Channel<M>, point: ResumePoint): ResumeOutcome;
  /** The kept messages after seq `from` up to the channel's seq, oldest first. */
  since(ch: Channel<M>, from: number): Iterable<Buffer>;
  /** Adds a member; the caller guarantees it is not one yet (it keeps its own subscription map). */
  join(ch: Channel<M>, member: M): void;
  leave(name: string, member: M): void;
}

export interface ChannelsDeps {
  epoch: string;
  /** Messages kept per channel; 0 keeps none, so every resume that missed something is a gap. */
  ringSize: number;
  metrics: Pick<HubMetrics, 'channels' | 'subscriptions'>;
}

export function createChannels<M>(deps: ChannelsDeps): Channels<M> {
  const { epoch, ringSize, metrics } = deps;
  const channels = new Map<string, Channel<M>>();

  /** Oldest seq the ring still holds (seq + 1 when it holds none). */
  const oldestKept = (ch: Channel<M>): number => Math.max(1, ch.seq - ringSize + 1);

  return {
    epoch,

    of(kind, symbol, name = `${kind}:${symbol}`) {
      let ch = channels.get(name);
      if (!ch) {
        ch = { name, kind, symbol, seq: 0, ring: new Array<Buffer | undefined>(ringSize), members: new Set() };
        channels.set(name, ch);
        metrics.channels.inc();
      }
      return ch;
    },

    push(ch, encode) {
      const buf = encode(ch.seq + 1);
      ch.seq++;
      if (ringSize > 0) ch.ring[ch.seq % ringSize] = buf;
      return buf;
    },

    resume(ch, point) {
      // What the client cannot have: for 'evicted', the seqs from its point to now, all of which it
      // gets summarised by the snapshot that follows; for another epoch the numbers are not ours.
      if (point.epoch !== epoch) return { replay: false, reason: 'epoch', from: null, to: ch.seq };
      if (point.seq > ch.seq) return { replay: false, reason: 'ahead', from: null, to: ch.seq };
      if (point.seq + 1 < oldestKept(ch)) return { replay: false, reason: 'evicted', from: point.seq + 1, to: ch.seq };
      return { replay: true };
    },

    *since(ch, from) {
      for (let s = from + 1; s <= ch.seq; s++) {
        const buf = ch.ring[s % ringSize];
        if (!buf) return;
        yield buf;
      }
    },

    join(ch, member) {
      ch.members.add(member);
      metrics.subscriptions.inc();
    },

    leave(name, member) {
      if (channels.get(name)?.members.delete(member)) metrics.subscriptions.dec();
    },
  };
}
