// The channels of one hub: each channel's sequence numbers, its replay ring and its members, how
// many channels may exist and when one is forgotten, and the decision whether a resume can be
// served from the ring or has to be told of a gap.
//
// Invariants:
// - A channel's seqs are 1, 2, 3... with no holes: a seq is taken only once its message has been
//   serialised, so a value that cannot be serialised never leaves a number nobody will see.
// - Seq s lives at ring[s % ringSize] until ringSize newer messages overwrite it; the ring holds
//   the same Buffer that was sent live, so a replay is byte for byte what the subscribers got. The
//   ring grows as messages arrive: a channel that never got one costs no ring.
// - One epoch names the seq numbering of every channel of the hub: a seq resume point from another
//   epoch (another instance, a restart) means nothing here.
// - Kafka positions name a record the same way on every replica: a channel's records come from
//   one topic, one partition per `symbol:interval` key, so a channel spans a few partitions and
//   its position is an offset per partition (a cursor). A cursor resume is served only when this
//   hub read every record after the cursor in every partition (`heads`: from the first offset it
//   read there) and the channel's ring still holds every one of its records after it (`lost`);
//   otherwise it is a gap. A record whose position this hub already passed is not published twice.
// - At most maxChannels channels exist. A channel with no member and no message for idleMs is
//   deleted (sweep); when the cap is reached, the member-less channel idle longest makes room;
//   when every channel has members, no channel is created (the caller refuses the subscribe).
import type { HubMetrics } from './metrics.js';
import type { ChannelKind, Cursor, ResumePoint } from './protocol.js';

export const DEFAULT_REPLAY_BUFFER = 1000;
export const DEFAULT_MAX_CHANNELS = 10_000;
export const DEFAULT_CHANNEL_IDLE_MS = 600_000;

/** Where a record sits in Kafka: its partition of the channel kind's topic and its offset. */
export interface Position {
  partition: number;
  offset: number;
}

/** One kept message: its bytes and its Kafka position (partition -1 when it has none). */
export interface Entry {
  readonly buf: Buffer;
  readonly partition: number;
  readonly offset: number;
}

/** One channel's sequence and replay ring: seq s lives at ring[s % ringSize]. */
export interface Channel<M> {
  readonly name: string;
  readonly kind: ChannelKind;
  readonly symbol: string;
  seq: number;
  readonly ring: (Entry | undefined)[];
  /** Who receives the channel's live messages. */
  readonly members: Set<M>;
  /** Last publish, join or leave (ms), for the idle sweep. */
  lastActive: number;
  /** Per partition, the highest offset at or below which this channel's records may not all be kept. */
  readonly lost: Map<number, number>;
  /** The ring holds a message without a Kafka position: a cursor cannot place it. */
  unplaced: boolean;
}

/** Why a resume point cannot be served from the ring. */
export type GapReason = 'epoch' | 'ahead' | 'evicted';

export type ResumeOutcome =
  { replay: true; entries: Buffer[]; skip: Map<number, number> | null } | { replay: false; reason: GapReason; from: number | null; to: number };

export interface Channels<M> {
  /** The name of this hub's seq numbering, sent in hello and expected back in a resume point. */
  readonly epoch: string;
  /** How many channels exist. */
  size(): number;
  /**
   * The channel named `<kind>:<symbol>`, created with seq 0 and an empty ring on first use; null
   * when the cap is reached and no channel can make room.
   */
  of(kind: ChannelKind, symbol: string, name?: string): Channel<M> | null;
  /**
   * Records a Kafka position read on a kind's topic: false when this hub already passed it (a
   * redelivered record), which is then not published again. An offset below the first one read in
   * its partition means the partition started over (topic made again): reading restarts there.
   */
  observe(kind: ChannelKind, pos: Position): boolean;
  /** The last offset read per partition of a kind's topic: where a new subscriber starts. */
  cursor(kind: ChannelKind): Cursor;
  /**
   * Numbers the channel's next message and keeps it for replay. `encode` gets the seq the message
   * will carry; if it throws, the seq is not taken and nothing is kept.
   */
  push(ch: Channel<M>, encode: (seq: number) => Buffer, pos?: Position): Buffer;
  /**
   * Whether every message after `point` is still in the ring (then the messages to replay, and
   * for a cursor resume the positions the client already has, to skip when they arrive live),
   * else the gap the client is told of.
   */
  resume(ch: Channel<M>, point: ResumePoint): ResumeOutcome;
  /** Adds a member; the caller guarantees it is not one yet (it keeps its own subscription map). */
  join(ch: Channel<M>, member: M): void;
  leave(name: string, member: M): void;
  /** Deletes the channels with no member that were idle for idleMs; how many. */
  sweep(): number;
}

export interface ChannelsDeps {
  epoch: string;
  /** Messages kept per channel; 0 keeps none, so every resume that missed something is a gap. */
  ringSize: number;
  /** Channels that may exist at once. */
  maxChannels: number;
  /** A channel with no member and no message for this long is deleted. */
  idleMs: number;
  now: () => number;
  metrics: Pick<HubMetrics, 'channels' | 'subscriptions' | 'channelsEvicted'>;
}

export function createChannels<M>(deps: ChannelsDeps): Channels<M> {
  const { epoch, ringSize, maxChannels, idleMs, now, metrics } = deps;
  const channels = new Map<string, Channel<M>>();
  /**
   * The channels without members, oldest activity first (a channel is moved to the end when it
   * becomes member-less or gets a message): the cap and the idle sweep take from the front, O(1)
   * per channel instead of a scan of every channel.
   */
  const idle = new Map<string, Channel<M>>();
  const touch = (ch: Channel<M>): void => {
    ch.lastActive = now();
    if (ch.members.size > 0) return;
    idle.delete(ch.name);
    idle.set(ch.name, ch);
  };
  /** Per kind, per partition: the first and the last offset this hub read. */
  const heads = new Map<ChannelKind, Map<number, { first: number; last: number }>>();
  /**
   * Per kind, per partition: the last offset read when a channel of the kind was deleted or could
   * not be made. Up to there some channel's records may be gone; a channel made later cannot vouch
   * for them. Without deletions a channel exists from its first record on, so it has lost nothing.
   */
  const forgotten = new Map<ChannelKind, Map<number, number>>();

  function forget(kind: ChannelKind): void {
    let f = forgotten.get(kind);
    if (!f) {
      f = new Map();
      forgotten.set(kind, f);
    }
    for (const [p, h] of headsOf(kind)) f.set(p, h.last);
  }

  const headsOf = (kind: ChannelKind): Map<number, { first: number; last: number }> => {
    let h = heads.get(kind);
    if (!h) {
      h = new Map();
      heads.set(kind, h);
    }
    return h;
  };

  /** Oldest seq the ring still holds (seq + 1 when it holds none). */
  const oldestKept = (ch: Channel<M>): number => Math.max(1, ch.seq - ringSize + 1);

  /** The kept entries after seq `from`, oldest first. */
  function* entriesSince(ch: Channel<M>, from: number): Iterable<Entry> {
    if (ringSize === 0) return;
    for (let s = Math.max(from, ch.seq - ringSize) + 1; s <= ch.seq; s++) {
      const e = ch.ring[s % ringSize];
      if (!e) return;
      yield e;
    }
  }

  function remove(ch: Channel<M>, reason: 'idle' | 'cap'): void {
    channels.delete(ch.name);
    idle.delete(ch.name);
    forget(ch.kind);
    metrics.channels.dec();
    metrics.channelsEvicted.inc({ reason });
  }

  /** Deletes the member-less channel idle longest; false when every channel has members. */
  function makeRoom(): boolean {
    const victim = idle.values().next();
    if (victim.done) return false;
    remove(victim.value, 'cap');
    return true;
  }

  function resumeCursor(ch: Channel<M>, cursor: Cursor): ResumeOutcome {
    const gap = (reason: GapReason): ResumeOutcome => ({ replay: false, reason, from: null, to: ch.seq });
    if (ch.unplaced) return gap('epoch');
    const read = headsOf(ch.kind);
    const skip = new Map<number, number>();
    for (const [p, h] of read) {
      const c = cursor.get(p);
      if (c === undefined) {
        // The client has no record of this channel from p: the ring's are all new to it, and it
        // misses none only if the channel lost none there.
        if (ch.lost.has(p)) return gap('evicted');
        continue;
      }
      // This hub started reading p after the client's point: records in between are unknown here.
      if (h.first > c + 1) return gap('epoch');
      if ((ch.lost.get(p) ?? -1) > c) return gap('evicted');
      // This hub is behind the client in p: what it reads up to c the client already has.
      if (h.last < c) skip.set(p, c);
    }
    // A partition this hub has not read yet: whether it will read from the client's point on is unknown.
    for (const p of cursor.keys()) if (!read.has(p)) return gap('epoch');
    const entries: Buffer[] = [];
    for (const e of entriesSince(ch, 0)) {
      const c = cursor.get(e.partition);
      if (c === undefined || e.offset > c) entries.push(e.buf);
    }
    return { replay: true, entries, skip: skip.size > 0 ? skip : null };
  }

  return {
    epoch,

    size: () => channels.size,

    of(kind, symbol, name = `${kind}:${symbol}`) {
      let ch = channels.get(name);
      if (ch) return ch;
      if (channels.size >= maxChannels && !makeRoom()) {
        forget(kind);
        return null;
      }
      const lost = new Map(forgotten.get(kind));
      ch = { name, kind, symbol, seq: 0, ring: [], members: new Set(), lastActive: now(), lost, unplaced: false };
      channels.set(name, ch);
      idle.set(name, ch);
      metrics.channels.inc();
      return ch;
    },

    observe(kind, pos) {
      const read = headsOf(kind);
      const h = read.get(pos.partition);
      if (!h) {
        read.set(pos.partition, { first: pos.offset, last: pos.offset });
        return true;
      }
      if (pos.offset < h.first) {
        // Before anything this hub read there: not a redelivery but a partition that starts over
        // (the topic was deleted and made again). Its old offsets name nothing now: every channel
        // of the kind has lost that partition, and reading starts again here.
        for (const ch of channels.values()) if (ch.kind === kind) ch.lost.set(pos.partition, Number.MAX_SAFE_INTEGER);
        forget(kind);
        forgotten.get(kind)?.set(pos.partition, Number.MAX_SAFE_INTEGER);
        read.set(pos.partition, { first: pos.offset, last: pos.offset });
        return true;
      }
      if (pos.offset <= h.last) return false;
      h.last = pos.offset;
      return true;
    },

    cursor(kind) {
      const c: Cursor = new Map();
      for (const [p, h] of headsOf(kind)) c.set(p, h.last);
      return c;
    },

    push(ch, encode, pos) {
      const buf = encode(ch.seq + 1);
      ch.seq++;
      touch(ch);
      const partition = pos?.partition ?? -1;
      const offset = pos?.offset ?? -1;
      if (ringSize === 0) {
        if (pos) ch.lost.set(partition, offset);
        else ch.unplaced = true;
        return buf;
      }
      const i = ch.seq % ringSize;
      const old = ch.ring[i];
      if (old && old.partition >= 0) ch.lost.set(old.partition, Math.max(ch.lost.get(old.partition) ?? -1, old.offset));
      ch.ring[i] = { buf, partition, offset };
      if (!pos) ch.unplaced = true;
      return buf;
    },

    resume(ch, point) {
      if (point.epoch !== epoch) {
        // Another replica's (or a restart's) numbering: its Kafka positions still name the records.
        if (point.cursor) return resumeCursor(ch, point.cursor);
        return { replay: false, reason: 'epoch', from: null, to: ch.seq };
      }
      // What the client cannot have: for 'evicted', the seqs from its point to now, all of which it
      // gets summarised by the snapshot that follows.
      if (point.seq > ch.seq) return { replay: false, reason: 'ahead', from: null, to: ch.seq };
      if (point.seq + 1 < oldestKept(ch)) return { replay: false, reason: 'evicted', from: point.seq + 1, to: ch.seq };
      return { replay: true, entries: [...entriesSince(ch, point.seq)].map((e) => e.buf), skip: null };
    },

    join(ch, member) {
      ch.members.add(member);
      ch.lastActive = now();
      idle.delete(ch.name);
      metrics.subscriptions.inc();
    },

    leave(name, member) {
      const ch = channels.get(name);
      if (ch?.members.delete(member)) {
        touch(ch);
        metrics.subscriptions.dec();
      }
    },

    sweep() {
      const t = now();
      let n = 0;
      // Oldest activity first: the first one not idle long enough ends the sweep.
      for (const ch of idle.values()) {
        if (t - ch.lastActive < idleMs) break;
        remove(ch, 'idle');
        n++;
      }
      return n;
    },
  };
}
