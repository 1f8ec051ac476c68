// Which client receives which channel: subscribe (with its snapshot or its resume), unsubscribe,
// and the fan-out of one published message to a channel's members.
//
// Invariants:
// - Between "subscribe" and its "subscribed" reply, live messages for that channel are held back
//   and flushed right after the snapshot, so a subscriber never sees a live message before its
//   snapshot and never loses one published while the snapshot was being fetched. Held messages
//   count against maxBufferedBytes like a send buffer: past it the client is closed (4008).
// - A resume that the ring covers is joined, answered and replayed in one synchronous step, so no
//   live message can slip in before or between the replayed ones.
// - A cursor resume (another replica's epoch) replays only the records after the client's Kafka
//   position per partition; where this hub is behind the client, the records it reads up to that
//   position are skipped for that client (it has them), so a resume never duplicates.
// - Only a symbol the hub knows gets a channel (`known`, or values of it in the snapshot source); a subscribe that would pass the channel
//   cap is refused (too_many_channels) rather than making the hub grow.
// - client.subs and the channels' member sets always agree: both change together, here.
import type { Logger } from '../../core/logger.js';
import type { Channel, Channels, Position } from './channel.js';
import type { Client, ClientWriter, Subscription } from './client.js';
import type { HubMetrics } from './metrics.js';
import { MESSAGE_TYPES, cursorJson, echoId, type ChannelKind, type ClientRequest, type MessageType, type RequestId, type ResumePoint } from './protocol.js';

export const MAX_SUBSCRIPTIONS = 50;

export interface Subscriptions {
  subscribe(client: Client, req: Extract<ClientRequest, { op: 'subscribe' }>): Promise<void>;
  /** Leaves the channel (if subscribed) and answers "unsubscribed" either way. */
  unsubscribe(client: Client, channel: string, id: RequestId | undefined): void;
  /** Hands one published message to every member of the channel, holding it for those awaiting a snapshot. */
  deliver(ch: Channel<Client>, buf: Buffer, type: MessageType, pos?: Position): void;
  /** Takes a client that is going away out of every channel. */
  leaveAll(client: Client): void;
}

export interface SubscriptionsDeps {
  log: Logger;
  metrics: Pick<HubMetrics, 'resumes'>;
  channels: Channels<Client>;
  /** Whether a symbol may get a channel (a symbol this system knows). */
  known(symbol: string): boolean;
  /** Makes a symbol known (its values were found in the snapshot source). */
  learn(symbol: string): void;
  writer: ClientWriter;
  /** The latest values of a channel, for the subscribe snapshot. */
  snapshot(kind: ChannelKind, symbol: string): Promise<unknown[]>;
  maxSubscriptions: number;
  maxBufferedBytes: number;
}

export function createSubscriptions(deps: SubscriptionsDeps): Subscriptions {
  const { log, metrics: m, channels, writer, maxSubscriptions: maxSubs } = deps;
  const { write, reply } = writer;

  /** Adds the client to the channel; null (with an error sent) when over the subscription limit. */
  function join(
    client: Client,
    ch: Channel<Client>,
    held: Buffer[] | null,
    id: RequestId | undefined,
    skip: Map<number, number> | null = null,
  ): Subscription | null {
    let sub = client.subs.get(ch.name);
    if (sub) {
      sub.held = held;
      sub.heldBytes = 0;
      sub.skip = skip;
      return sub;
    }
    if (client.subs.size >= maxSubs) {
      writer.protocolError(client, 'too_many_subscriptions', `at most ${maxSubs} subscriptions per connection`, id);
      return null;
    }
    sub = { held, heldBytes: 0, skip };
    client.subs.set(ch.name, sub);
    channels.join(ch, client);
    return sub;
  }

  /** Writes the replayed messages, synchronously (nothing can interleave). */
  function replay(client: Client, ch: Channel<Client>, entries: Buffer[]): void {
    for (const buf of entries) {
      if (!write(client, buf, MESSAGE_TYPES[ch.kind])) return;
    }
  }

  /**
   * Answers a subscribe with a resume point: 'done' when that settled it (replayed, refused, or the
   * client dropped), 'snapshot' after a gap, when a snapshot subscribe follows.
   */
  function resumeFrom(client: Client, ch: Channel<Client>, resume: ResumePoint, id: RequestId | undefined): 'done' | 'snapshot' {
    const outcome = channels.resume(ch, resume);
    if (outcome.replay) {
      // Everything after the resume point is in the ring: subscribe and replay in one synchronous step.
      if (!join(client, ch, null, id, outcome.skip)) return 'done';
      const byCursor = resume.epoch !== channels.epoch;
      m.resumes.inc({ outcome: byCursor ? 'replayed_cursor' : 'replayed' });
      // By seq, `seq` is the client's point and the replay is seq + 1...; by cursor (another
      // replica's numbering), `seq` is this hub's last seq: the replayed messages carry this hub's
      // seqs up to it (increasing, not necessarily consecutive), live ones follow from seq + 1.
      const seq = byCursor ? ch.seq : resume.seq;
      const cursor = cursorJson(channels.cursor(ch.kind));
      if (!reply(client, 'subscribed', { channel: ch.name, seq, resumed: true, replayed: outcome.entries.length, cursor, ...echoId(id) })) return 'done';
      replay(client, ch, outcome.entries);
      return 'done';
    }
    const { reason, from, to } = outcome;
    m.resumes.inc({ outcome: reason });
    return reply(client, 'gap', { channel: ch.name, reason, from, to, epoch: channels.epoch, ...echoId(id) }) ? 'snapshot' : 'done';
  }

  async function subscribe(client: Client, req: Extract<ClientRequest, { op: 'subscribe' }>): Promise<void> {
    const { id, resume } = req;
    if (!client.subs.has(req.channel) && !deps.known(req.symbol) && !(await storedValues(req.kind, req.symbol))) {
      if (!client.open) return;
      writer.protocolError(client, 'unknown_symbol', `no ${req.symbol} on this gateway: not configured, no record of it read, no stored value`, id);
      return;
    }
    if (!client.open) return;
    const ch = channels.of(req.kind, req.symbol, req.channel);
    if (!ch) {
      writer.protocolError(client, 'too_many_channels', 'the gateway has as many channels as it may hold, all in use; try again later or another gateway', id);
      return;
    }
    if (resume && resumeFrom(client, ch, resume, id) === 'done') return;
    const sub = join(client, ch, [], id);
    if (!sub) return;
    const seqAtRequest = ch.seq;
    const cursorAtRequest = cursorJson(channels.cursor(ch.kind));
    let snapshot: unknown[] = [];
    let snapshotError: string | undefined;
    try {
      snapshot = await deps.snapshot(req.kind, req.symbol);
    } catch (err) {
      log.warn({ err, channel: ch.name }, 'snapshot source failed; subscribing without a snapshot');
      snapshotError = 'snapshot unavailable';
    }
    // The client may have gone, or unsubscribed, while the snapshot was being fetched.
    if (!client.open || client.subs.get(ch.name) !== sub) return;
    const held = sub.held ?? [];
    sub.held = null;
    sub.heldBytes = 0;
    if (
      !reply(client, 'subscribed', {
        channel: ch.name,
        seq: seqAtRequest,
        cursor: cursorAtRequest,
        snapshot,
        ...(snapshotError === undefined ? {} : { snapshotError }),
        ...echoId(id),
      })
    )
      return;
    for (const buf of held) {
      if (!write(client, buf, MESSAGE_TYPES[ch.kind])) return;
    }
  }

  /**
   * Whether the snapshot source has values of a channel of a symbol not known yet (a symbol whose
   * latest values are stored but whose records this gateway has not read since it started): then
   * the symbol is learnt. Costs one snapshot read, like the subscribe itself.
   */
  async function storedValues(kind: ChannelKind, symbol: string): Promise<boolean> {
    let values: unknown[];
    try {
      values = await deps.snapshot(kind, symbol);
    } catch (err) {
      log.debug({ err, kind, symbol }, 'snapshot source failed; symbol not known');
      return false;
    }
    if (values.length === 0) return false;
    deps.learn(symbol);
    return true;
  }

  /** Whether the client already has this record (it resumed ahead of this hub in its partition). */
  function skipped(sub: Subscription, pos: Position): boolean {
    const skip = sub.skip;
    if (!skip) return false;
    const upTo = skip.get(pos.partition);
    if (upTo === undefined) return false;
    if (pos.offset <= upTo) return true;
    skip.delete(pos.partition);
    if (skip.size === 0) sub.skip = null;
    return false;
  }

  return {
    subscribe,

    unsubscribe(client, channel, id) {
      if (client.subs.delete(channel)) channels.leave(channel, client);
      reply(client, 'unsubscribed', { channel, ...echoId(id) });
    },

    deliver(ch, buf, type, pos) {
      if (ch.members.size === 0) return;
      // Copy: write() may evict a member and mutate the set while we iterate.
      for (const client of [...ch.members]) {
        const sub = client.subs.get(ch.name);
        if (sub?.skip && pos && skipped(sub, pos)) continue;
        if (sub?.held) {
          if (sub.heldBytes + buf.length > deps.maxBufferedBytes) {
            writer.evictSlow(client, sub.heldBytes + buf.length);
            continue;
          }
          sub.held.push(buf);
          sub.heldBytes += buf.length;
          continue;
        }
        write(client, buf, type);
      }
    },

    leaveAll(client) {
      for (const channel of client.subs.keys()) channels.leave(channel, client);
      client.subs.clear();
    },
  };
}
