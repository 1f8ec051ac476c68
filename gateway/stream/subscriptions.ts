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
// - client.subs and the channels' member sets always agree: both change together, here.
import type { Logger } from '../../core/logger.js';
import type { Channel, Channels } from './channel.js';
import type { Client, ClientWriter, Subscription } from './client.js';
import type { HubMetrics } from './metrics.js';
import { MESSAGE_TYPES, echoId, type ChannelKind, type ClientRequest, type MessageType, type RequestId, type ResumePoint } from './protocol.js';

export const MAX_SUBSCRIPTIONS = 50;

export interface Subscriptions {
  subscribe(client: Client, req: Extract<ClientRequest, { op: 'subscribe' }>): Promise<void>;
  /** Leaves the channel (if subscribed) and answers "unsubscribed" either way. */
  unsubscribe(client: Client, channel: string, id: RequestId | undefined): void;
  /** Hands one published message to every member of the channel, holding it for those awaiting a snapshot. */
  deliver(ch: Channel<Client>, buf: Buffer, type: MessageType): void;
  /** Takes a client that is going away out of every channel. */
  leaveAll(client: Client): void;
}

export interface SubscriptionsDeps {
  log: Logger;
  metrics: Pick<HubMetrics, 'resumes'>;
  channels: Channels<Client>;
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
  function join(client: Client, ch: Channel<Client>, held: Buffer[] | null, id: RequestId | undefined): Subscription | null {
    let sub = client.subs.get(ch.name);
    if (sub) {
      sub.held = held;
      sub.heldBytes = 0;
      return sub;
    }
    if (client.subs.size >= maxSubs) {
      writer.protocolError(client, 'too_many_subscriptions', `at most ${maxSubs} subscriptions per connection`, id);
      return null;
    }
    sub = { held, heldBytes: 0 };
    client.subs.set(ch.name, sub);
    channels.join(ch, client);
    return sub;
  }

  /** Replays seqs after `from` from the ring, synchronously (nothing can interleave). */
  function replay(client: Client, ch: Channel<Client>, from: number): void {
    for (const buf of channels.since(ch, from)) {
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
      // Everything after resume.seq is in the ring: subscribe and replay in one synchronous step.
      if (!join(client, ch, null, id)) return 'done';
      m.resumes.inc({ outcome: 'replayed' });
      if (!reply(client, 'subscribed', { channel: ch.name, seq: resume.seq, resumed: true, replayed: ch.seq - resume.seq, ...echoId(id) })) return 'done';
      replay(client, ch, resume.seq);
      return 'done';
    }
    const { reason, from, to } = outcome;
    m.resumes.inc({ outcome: reason });
    return reply(client, 'gap', { channel: ch.name, reason, from, to, epoch: channels.epoch, ...echoId(id) }) ? 'snapshot' : 'done';
  }

  async function subscribe(client: Client, req: Extract<ClientRequest, { op: 'subscribe' }>): Promise<void> {
    const ch = channels.of(req.kind, req.symbol, req.channel);
    const { id, resume } = req;
    if (resume && resumeFrom(client, ch, resume, id) === 'done') return;
    const sub = join(client, ch, [], id);
    if (!sub) return;
    const seqAtRequest = ch.seq;
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
      !reply(client, 'subscribed', { channel: ch.name, seq: seqAtRequest, snapshot, ...(snapshotError === undefined ? {} : { snapshotError }), ...echoId(id) })
    )
      return;
    for (const buf of held) {
      if (!write(client, buf, MESSAGE_TYPES[ch.kind])) return;
    }
  }

  return {
    subscribe,

    unsubscribe(client, channel, id) {
      if (client.subs.delete(channel)) channels.leave(channel, client);
      reply(client, 'unsubscribed', { channel, ...echoId(id) });
    },

    deliver(ch, buf, type) {
      if (ch.members.size === 0) return;
      // Copy: write() may evict a member and mutate the set while we iterate.
      for (const client of [...ch.members]) {
        const sub = client.subs.get(ch.name);
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
