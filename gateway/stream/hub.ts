// WebSocket fan-out of predictions, features and candles, protocol v2 (docs/websocket.md,
// docs/asyncapi.yaml).
//
// The hub knows nothing about fastify or ws's server: it is handed sockets that expose the few
// members it needs (so tests can pass fakes), and it owns everything after that: the protocol,
// subscriptions, sequence numbers and the replay buffer, the heartbeat and idle timeout, per-client
// rate limits, slow-client eviction and shutdown.
//
// Invariants:
// - Every message pushed on a channel carries the channel's next sequence number (1, 2, 3...;
//   one sequence per channel per hub, the hub's `epoch` names it). A published message is
//   serialised once; every subscriber gets the same Buffer, so the cost per extra subscriber is
//   one socket write, not one JSON.stringify.
// - The last `replayBuffer` messages of each channel are kept, so that a client that reconnects
//   with {epoch, seq} gets exactly the messages after seq, or a `gap` message saying which ones it
//   cannot have, never a silent hole. Within one connection a channel's seqs arrive without holes:
//   a client that cannot take a message is disconnected rather than skipped.
// - A client whose send buffer is over maxBufferedBytes is closed (4008) and dropped before
//   anything else is written to it: a slow reader never delays the others and never holds more
//   than maxBufferedBytes (plus one message) of server memory.
// - Replies to one client come in the order of its requests: each client's requests run through
//   one promise chain, because subscribe has to wait for the snapshot source.
// - Between "subscribe" and its "subscribed" reply, live messages for that channel are held back
//   and flushed right after the snapshot, so a subscriber never sees a live message before its
//   snapshot and never loses one published while the snapshot was being fetched.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from '../../core/metrics.js';
import { errorMessage } from '../../core/errors.js';
import {
  CHANNEL_KINDS, CloseCodes, MESSAGE_TYPES, PROTOCOL_VERSION, echoId, frameText, normaliseSymbol, parseClientMessage,
  type ChannelKind, type ClientRequest, type RequestId,
} from './protocol.js';
import { createHubMetrics } from './metrics.js';
import { DEFAULT_REPLAY_BUFFER, createChannels, type Channel } from './channel.js';
import {
  DEFAULT_CLIENT_RATE, SOCKET_OPEN, countRefused, createClient, createWriter, rateLimitOf, takeToken,
  type Client, type HubSocket, type Principal, type Subscription,
} from './client.js';

// The protocol's public surface, where its importers have always found it.
export {
  CHANNEL_KINDS, CHANNEL_PREFIX, CloseCodes, MESSAGE_TYPES, PROTOCOL_VERSION, ProtocolErrorReasons, normaliseSymbol, parseChannel, parseClientMessage,
  type ChannelKind, type ClientRequest, type ParseResult, type ProtocolErrorReason, type RequestId, type ResumePoint,
} from './protocol.js';
export { DEFAULT_REPLAY_BUFFER } from './channel.js';
export { DEFAULT_CLIENT_RATE, type HubSocket, type Principal } from './client.js';

export const MAX_SUBSCRIPTIONS = 50;
/** Requests from one client still waiting for their turn; beyond this a request is refused. Well
 * above MAX_SUBSCRIPTIONS so that a client may subscribe to everything in one burst. */
export const MAX_QUEUED_REQUESTS = 128;

/** The caller forwards the socket's events here. */
export interface HubConnection {
  receive(data: Buffer | ArrayBuffer | Buffer[] | string, isBinary: boolean): void;
  pong(): void;
  error(err: unknown): void;
  closed(): void;
}

export interface Hub {
  /** The name of this hub's sequence numbering; a resume with another epoch gets a gap. */
  readonly epoch: string;
  /** Pushes one value to the subscribers of `<kind>:<value.symbol>`, with the channel's next seq. */
  publish(kind: ChannelKind, value: { symbol: string }): void;
  clientCount(): number;
  /** Takes over a freshly opened socket: sends hello and starts serving it. */
  connect(socket: HubSocket, principal?: Principal): HubConnection;
  /** Key ids of the open connections (for revocation checks). */
  keyIds(): string[];
  /** Closes every connection opened with one of these keys. */
  closeKeys(ids: Iterable<string>, code: number, reason: string): number;
  /** Closes every client with 1001 and stops the timers; publish and connect become no-ops. */
  close(): void;
}

export interface HubDeps {
  logger: Logger;
  registry: Registry;
  /** The latest values of a channel (one per interval/series), for the subscribe snapshot. */
  snapshot(kind: ChannelKind, symbol: string): Promise<unknown[]>;
  maxBufferedBytes: number;
  heartbeatMs?: number;
  /** A connection with no subscription that has sent nothing for this long is closed; 0 = never. */
  idleTimeoutMs?: number;
  maxSubscriptions?: number;
  /** Messages kept per channel for resume. */
  replayBuffer?: number;
  /** Messages per second a client may send (burst: twice this). */
  clientRate?: number;
  /** Fixed epoch (tests); default: random per hub. */
  epoch?: string;
  now?: () => number;
}

export function createHub(deps: HubDeps): Hub {
  const log = deps.logger.child({ component: 'ws-hub' });
  const maxSubs = deps.maxSubscriptions ?? MAX_SUBSCRIPTIONS;
  const ringSize = deps.replayBuffer ?? DEFAULT_REPLAY_BUFFER;
  const limit = rateLimitOf(deps.clientRate ?? DEFAULT_CLIENT_RATE);
  const { rate, burst } = limit;
  const idleMs = deps.idleTimeoutMs ?? 0;
  const heartbeatMs = deps.heartbeatMs ?? 30_000;
  const now = deps.now ?? Date.now;
  const epoch = deps.epoch ?? `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const clients = new Set<Client>();
  let nextId = 1;
  let closed = false;

  const m = createHubMetrics(deps.registry);
  const channels = createChannels<Client>({ epoch, ringSize, metrics: m });
  const { write, reply, protocolError, close: closeSocket, evictSlow } = createWriter({ log, metrics: m, maxBufferedBytes: deps.maxBufferedBytes, drop });

  function drop(client: Client): void {
    if (!client.open) return;
    client.open = false;
    clients.delete(client);
    m.clients.dec();
    for (const channel of client.subs.keys()) channels.leave(channel, client);
    client.subs.clear();
  }

  /** Adds the client to the channel; false (with an error sent) when over the subscription limit. */
  function join(client: Client, ch: Channel<Client>, held: Buffer[] | null, id: RequestId | undefined): Subscription | null {
    let sub = client.subs.get(ch.name);
    if (sub) {
      sub.held = held;
      sub.heldBytes = 0;
      return sub;
    }
    if (client.subs.size >= maxSubs) {
      protocolError(client, 'too_many_subscriptions', `at most ${maxSubs} subscriptions per connection`, id);
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

  async function subscribe(client: Client, req: Extract<ClientRequest, { op: 'subscribe' }>): Promise<void> {
    const ch = channels.of(req.kind, req.symbol, req.channel);
    const { id, resume } = req;
    if (resume) {
      const outcome = channels.resume(ch, resume);
      if (outcome.replay) {
        // Everything after resume.seq is in the ring: subscribe and replay in one synchronous step.
        if (!join(client, ch, null, id)) return;
        m.resumes.inc({ outcome: 'replayed' });
        if (!reply(client, 'subscribed', { channel: ch.name, seq: resume.seq, resumed: true, replayed: ch.seq - resume.seq, ...echoId(id) })) return;
        replay(client, ch, resume.seq);
        return;
      }
      const { reason, from, to } = outcome;
      m.resumes.inc({ outcome: reason });
      if (!reply(client, 'gap', { channel: ch.name, reason, from, to, epoch, ...echoId(id) })) return;
    }
    const sub = join(client, ch, [], id);
    if (!sub) return;
    const seqAtRequest = ch.seq;
    let snapshot: unknown[] = [];
    let snapshotError: string | undefined;
    try {
      snapshot = await deps.snapshot(req.kind, req.symbol);
    } catch (err) {
      log.warn({ err: errorMessage(err), channel: ch.name }, 'snapshot source failed; subscribing without a snapshot');
      snapshotError = 'snapshot unavailable';
    }
    if (!client.open || client.subs.get(ch.name) !== sub) return;
    const held = sub.held ?? [];
    sub.held = null;
    sub.heldBytes = 0;
    if (!reply(client, 'subscribed', { channel: ch.name, seq: seqAtRequest, snapshot, ...(snapshotError === undefined ? {} : { snapshotError }), ...echoId(id) })) return;
    for (const buf of held) {
      if (!write(client, buf, MESSAGE_TYPES[ch.kind])) return;
    }
  }

  function unsubscribe(client: Client, channel: string, id: RequestId | undefined): void {
    if (client.subs.delete(channel)) channels.leave(channel, client);
    reply(client, 'unsubscribed', { channel, ...echoId(id) });
  }

  async function handle(client: Client, req: ClientRequest): Promise<void> {
    if (!client.open) return;
    switch (req.op) {
      case 'ping':
        reply(client, 'pong', echoId(req.id));
        return;
      case 'subscribe':
        return subscribe(client, req);
      case 'unsubscribe':
        unsubscribe(client, req.channel, req.id);
        return;
    }
  }

  function enqueue(client: Client, task: () => Promise<void> | void): void {
    client.queued++;
    client.chain = client.chain
      .then(task)
      .catch((err: unknown) => log.error({ err, client: client.id }, 'WebSocket request failed'))
      .finally(() => { client.queued--; });
  }

  function rateLimited(client: Client, t: number): void {
    const refused = countRefused(client, t);
    // One error per second at most: refusing a flood must not answer it with a flood.
    // Queued behind the requests already accepted, so replies keep the order of the requests.
    if (refused === 1) enqueue(client, () => protocolError(client, 'rate_limited', `more than ${rate} messages per second (burst ${burst}); messages are being dropped`));
    else m.protocolErrors.inc({ reason: 'rate_limited' });
    if (refused > burst && !client.closing) {
      // Nothing more is read from it; the close waits behind the replies to the requests that
      // were accepted (and the rate-limit error), so the client learns why before 4029 arrives.
      client.closing = true;
      m.closes.inc({ reason: 'rate_limited' });
      log.warn({ client: client.id, key: client.principal?.keyId ?? null, rate }, 'closing WebSocket client that keeps sending over its rate limit (4029)');
      enqueue(client, () => closeSocket(client, CloseCodes.RATE_LIMITED, 'rate limit exceeded'));
      // A request stuck on a snapshot must not keep the connection open.
      setTimeout(() => { if (client.open) closeSocket(client, CloseCodes.RATE_LIMITED, 'rate limit exceeded'); }, 5000).unref();
    }
  }

  function receive(client: Client, data: Buffer | ArrayBuffer | Buffer[] | string, isBinary: boolean): void {
    if (!client.open || client.closing) return;
    const t = now();
    client.lastSeen = t;
    if (!takeToken(client, limit, t)) {
      rateLimited(client, t);
      return;
    }
    if (client.queued >= MAX_QUEUED_REQUESTS) {
      protocolError(client, 'queue_full', `more than ${MAX_QUEUED_REQUESTS} requests waiting; slow down`);
      return;
    }
    if (isBinary) {
      enqueue(client, () => protocolError(client, 'binary', 'binary frames are not part of the protocol; send JSON text'));
      return;
    }
    const parsed = parseClientMessage(frameText(data));
    if (!parsed.ok) {
      enqueue(client, () => protocolError(client, parsed.reason, parsed.message, parsed.id));
      return;
    }
    enqueue(client, () => handle(client, parsed.request));
  }

  function heartbeat(): void {
    for (const client of [...clients]) {
      if (!client.alive) {
        m.closes.inc({ reason: 'dead' });
        log.info({ client: client.id }, 'terminating WebSocket client that missed a pong');
        drop(client);
        client.socket.terminate();
        continue;
      }
      client.alive = false;
      try {
        client.socket.ping();
      } catch (err) {
        log.debug({ err, client: client.id }, 'ping failed, dropping client');
        drop(client);
        client.socket.terminate();
      }
    }
  }

  function idleSweep(): void {
    const t = now();
    for (const client of [...clients]) {
      if (client.subs.size === 0 && client.queued === 0 && t - client.lastSeen >= idleMs) {
        m.closes.inc({ reason: 'idle' });
        log.info({ client: client.id, idleMs }, 'closing idle WebSocket client (4000)');
        closeSocket(client, CloseCodes.IDLE, 'idle: no subscription and no message');
      }
    }
  }

  // Neither timer may keep a process alive that is otherwise done.
  const timers = [setInterval(heartbeat, heartbeatMs)];
  // Swept at a quarter of the timeout, so a client is closed between 1 and 1.25 timeouts idle.
  if (idleMs > 0) timers.push(setInterval(idleSweep, Math.max(25, idleMs / 4)));
  for (const t of timers) t.unref();

  return {
    epoch,

    publish(kind: ChannelKind, value: { symbol: string }): void {
      if (closed) return;
      m.published.inc({ kind });
      const symbol = typeof value.symbol === 'string' ? normaliseSymbol(value.symbol) : null;
      if (!symbol) {
        log.warn({ kind, symbol: value.symbol }, 'value with a symbol outside the channel grammar; not fanned out');
        return;
      }
      const ch = channels.of(kind, symbol);
      const type = MESSAGE_TYPES[kind];
      let buf: Buffer;
      try {
        // Serialised once: every subscriber gets this Buffer, and the ring keeps it for replay.
        buf = channels.push(ch, (seq) => Buffer.from(JSON.stringify({ type, channel: ch.name, seq, data: value })));
      } catch (err) {
        log.error({ err, channel: ch.name }, 'value could not be serialised; not fanned out');
        return;
      }
      if (ch.members.size === 0) return;
      // Copy: write() may evict a member and mutate the set while we iterate.
      for (const client of [...ch.members]) {
        const sub = client.subs.get(ch.name);
        if (sub?.held) {
          if (sub.heldBytes + buf.length > deps.maxBufferedBytes) {
            evictSlow(client, sub.heldBytes + buf.length);
            continue;
          }
          sub.held.push(buf);
          sub.heldBytes += buf.length;
          continue;
        }
        write(client, buf, type);
      }
    },

    clientCount: () => clients.size,

    connect(socket: HubSocket, principal?: Principal): HubConnection {
      const t = now();
      const client = createClient(nextId++, socket, principal, limit, t);
      if (closed) {
        client.open = false;
        socket.close(CloseCodes.GOING_AWAY, 'server shutting down');
      } else {
        clients.add(client);
        m.clients.inc();
        reply(client, 'hello', {
          protocol: PROTOCOL_VERSION, epoch, channels: CHANNEL_KINDS.map((k) => `${k}:<SYMBOL>`),
          limits: { maxSubscriptions: maxSubs, messagesPerSecond: rate, burst, replayBuffer: ringSize, maxBufferedBytes: deps.maxBufferedBytes, idleTimeoutMs: idleMs },
          heartbeatMs,
        });
      }
      return {
        receive: (data, isBinary) => receive(client, data, isBinary),
        pong: () => { client.alive = true; },
        error: (err: unknown) => {
          const code = (err as { code?: unknown } | null)?.code;
          if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') m.protocolErrors.inc({ reason: 'too_large' });
          log.debug({ err: errorMessage(err), code, client: client.id }, 'WebSocket client error');
          drop(client);
          // ws has already started closing (e.g. 1009 for an oversized frame); only a socket
          // that is still open needs cutting off here.
          if (socket.readyState === SOCKET_OPEN) socket.terminate();
        },
        closed: () => drop(client),
      };
    },

    keyIds(): string[] {
      const ids = new Set<string>();
      for (const c of clients) if (c.principal?.keyId) ids.add(c.principal.keyId);
      return [...ids];
    },

    closeKeys(ids: Iterable<string>, code: number, reason: string): number {
      const set = new Set(ids);
      let n = 0;
      for (const c of [...clients]) {
        const k = c.principal?.keyId;
        if (k && set.has(k)) {
          m.closes.inc({ reason: 'revoked' });
          closeSocket(c, code, reason);
          n++;
        }
      }
      return n;
    },

    close(): void {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      for (const client of [...clients]) closeSocket(client, CloseCodes.GOING_AWAY, 'server shutting down');
    },
  };
}
