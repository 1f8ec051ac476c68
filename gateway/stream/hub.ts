// WebSocket fan-out of predictions, features, candles and live scores, protocol v2 (docs/websocket.md,
// docs/asyncapi.yaml).
//
// The hub knows nothing about fastify or ws's server: it is handed sockets that expose the few
// members it needs (so tests can pass fakes), and it owns everything after that: the protocol,
// subscriptions, sequence numbers and the replay buffer, the heartbeat and idle timeout, per-client
// rate limits, slow-client eviction and shutdown. createHub wires its parts, each with the
// invariants it keeps:
//   protocol.ts       the wire: channel grammar, message types, close codes, request parsing
//   channel.ts        per channel: seqs, the replay ring, resume or gap
//   client.ts         per client: state, token bucket, every write (backpressure, 4008, cork/uncork)
//   requests.ts       per client: rate limit, the ordered request queue, dispatch
//   subscriptions.ts  subscribe (snapshot, held-back live messages, resume), fan-out to members
//   liveness.ts       heartbeat and idle timeout
//   metrics.ts        the hub's Prometheus metrics
// (route.ts, outside the hub, hands it the sockets that fastify's /ws accepts.)
//
// Invariants of the whole:
// - Every message pushed on a channel carries the channel's next sequence number (1, 2, 3...;
//   one sequence per channel per hub, the hub's `epoch` names it) and, when it came from Kafka,
//   its position `pos` [partition, offset], which names it the same on every replica. A published message is
//   serialised once; every subscriber gets the same Buffer, so the cost per extra subscriber is
//   one socket write, not one JSON.stringify.
// - The last `replayBuffer` messages of each channel are kept, so that a client that reconnects
//   with {epoch, seq} gets exactly the messages after seq, or a `gap` message saying which ones it
//   cannot have, never a silent hole. A client that reconnects to another replica resumes with its
//   Kafka cursor instead (channel.ts). Within one connection a channel's messages arrive without
//   holes or duplicates: a client that cannot take a message is disconnected rather than skipped.
// - Memory is bounded: at most maxChannels channels, only for symbols the hub knows (configured,
//   read from Kafka, or with values in the snapshot source), and a channel with no member is deleted after channelIdleMs.
// - A client that is dropped (closed, evicted, gone) leaves the client set and every channel at
//   once (drop below), so nothing is written to it afterwards and no gauge counts it.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import type { Registry } from '../../core/metrics.js';
import { CHANNEL_KINDS, CloseCodes, MESSAGE_TYPES, PROTOCOL_VERSION, normaliseSymbol, type ChannelKind } from './protocol.js';
import { createHubMetrics } from './metrics.js';
import { DEFAULT_CHANNEL_IDLE_MS, DEFAULT_MAX_CHANNELS, DEFAULT_REPLAY_BUFFER, createChannels, type Position } from './channel.js';
import { DEFAULT_CLIENT_RATE, SOCKET_OPEN, createClient, createWriter, rateLimitOf, type Client, type HubSocket, type Principal } from './client.js';
import { MAX_SUBSCRIPTIONS, createSubscriptions } from './subscriptions.js';
import { createRequests } from './requests.js';
import { startLiveness } from './liveness.js';

// The hub's public surface, where its importers have always found it.
export {
  CHANNEL_KINDS,
  CHANNEL_PREFIX,
  CloseCodes,
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  ProtocolErrorReasons,
  normaliseSymbol,
  parseChannel,
  parseClientMessage,
  type ChannelKind,
  type ClientRequest,
  type ParseResult,
  type ProtocolErrorReason,
  type RequestId,
  type Cursor,
  type ResumePoint,
} from './protocol.js';
export { DEFAULT_CHANNEL_IDLE_MS, DEFAULT_MAX_CHANNELS, DEFAULT_REPLAY_BUFFER, type Position } from './channel.js';
export { DEFAULT_CLIENT_RATE, type HubSocket, type Principal } from './client.js';
export { MAX_SUBSCRIPTIONS } from './subscriptions.js';
export { MAX_QUEUED_REQUESTS } from './requests.js';

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
  /**
   * Pushes one value to the subscribers of `<kind>:<value.symbol>`, with the channel's next seq and
   * its Kafka position when given (a position already published is ignored: a redelivery).
   */
  publish(kind: ChannelKind, value: { symbol: string }, pos?: Position): void;
  /** Channels that exist (each with a sequence and a replay ring). */
  channelCount(): number;
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
  /** Channels that may exist at once; a subscribe beyond is refused (too_many_channels). */
  maxChannels?: number;
  /** A channel with no member and no message for this long is deleted with its ring. */
  channelIdleMs?: number;
  /**
   * Symbols that may always get a channel (the configured ones); others only once a record of
   * theirs was published or the snapshot source has values of theirs. Absent: any symbol of the
   * channel grammar (the cap still holds).
   */
  symbols?: readonly string[];
  /** Fixed epoch (tests); default: random per hub. */
  epoch?: string;
  now?: () => number;
}

/** The hub's settings with the defaults filled in. */
function settingsOf(deps: HubDeps) {
  return {
    maxSubs: deps.maxSubscriptions ?? MAX_SUBSCRIPTIONS,
    ringSize: deps.replayBuffer ?? DEFAULT_REPLAY_BUFFER,
    maxChannels: deps.maxChannels ?? DEFAULT_MAX_CHANNELS,
    channelIdleMs: deps.channelIdleMs ?? DEFAULT_CHANNEL_IDLE_MS,
    limit: rateLimitOf(deps.clientRate ?? DEFAULT_CLIENT_RATE),
    idleMs: deps.idleTimeoutMs ?? 0,
    heartbeatMs: deps.heartbeatMs ?? 30_000,
    maxBufferedBytes: deps.maxBufferedBytes,
    now: deps.now ?? Date.now,
    epoch: deps.epoch ?? `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`,
  };
}

/** The hello every client gets first: the protocol, this hub's epoch and the limits it enforces. */
function helloOf(s: ReturnType<typeof settingsOf>): Record<string, unknown> {
  return {
    protocol: PROTOCOL_VERSION,
    epoch: s.epoch,
    channels: CHANNEL_KINDS.map((k) => `${k}:<SYMBOL>`),
    limits: {
      maxSubscriptions: s.maxSubs,
      messagesPerSecond: s.limit.rate,
      burst: s.limit.burst,
      replayBuffer: s.ringSize,
      maxChannels: s.maxChannels,
      maxBufferedBytes: s.maxBufferedBytes,
      idleTimeoutMs: s.idleMs,
    },
    heartbeatMs: s.heartbeatMs,
  };
}

export function createHub(deps: HubDeps): Hub {
  const log = deps.logger.child({ part: 'ws-hub' });
  const settings = settingsOf(deps);
  const { maxSubs, ringSize, maxChannels, channelIdleMs, limit, idleMs, heartbeatMs, maxBufferedBytes, now, epoch } = settings;
  const clients = new Set<Client>();
  let nextId = 1;
  let closed = false;

  const m = createHubMetrics(deps.registry);
  const channels = createChannels<Client>({ epoch, ringSize, maxChannels, idleMs: channelIdleMs, now, metrics: m });
  const known = createKnownSymbols(deps.symbols, maxChannels);
  const writer = createWriter({ log, metrics: m, maxBufferedBytes, drop });
  const subscriptions = createSubscriptions({
    log,
    metrics: m,
    channels,
    known: (symbol) => known.has(symbol),
    learn: (symbol) => known.add(symbol),
    writer,
    snapshot: (kind, symbol) => deps.snapshot(kind, symbol),
    maxSubscriptions: maxSubs,
    maxBufferedBytes,
  });
  const requests = createRequests({ log, metrics: m, writer, subscriptions, limit, now });
  const liveness = startLiveness({ log, metrics: m, clients, writer, drop, heartbeatMs, idleMs, now });
  const sweeper = setInterval(() => channels.sweep(), Math.max(25, Math.min(60_000, channelIdleMs / 4)));
  sweeper.unref();
  let refusedLogged = 0;

  function drop(client: Client): void {
    if (!client.open) return;
    client.open = false;
    clients.delete(client);
    m.clients.dec();
    subscriptions.leaveAll(client);
  }

  /** The events of one client's socket, as the caller forwards them. */
  function connection(client: Client): HubConnection {
    const { socket } = client;
    return {
      receive: (data, isBinary) => requests.receive(client, data, isBinary),
      pong: () => {
        client.alive = true;
      },
      error: (err: unknown) => {
        const code = (err as { code?: unknown } | null)?.code;
        if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') m.protocolErrors.inc({ reason: 'too_large' });
        log.debug({ err, code, client: client.id }, 'WebSocket client error');
        drop(client);
        // ws has already started closing (e.g. 1009 for an oversized frame); only a socket
        // that is still open needs cutting off here.
        if (socket.readyState === SOCKET_OPEN) socket.terminate();
      },
      closed: () => drop(client),
    };
  }

  return {
    epoch,

    publish(kind: ChannelKind, value: { symbol: string }, pos?: Position): void {
      if (closed) return;
      m.published.inc({ kind });
      if (pos && !channels.observe(kind, pos)) {
        log.debug({ kind, ...pos }, 'record at a position already published (redelivered); not fanned out again');
        return;
      }
      const symbol = typeof value.symbol === 'string' ? normaliseSymbol(value.symbol) : null;
      if (!symbol) {
        log.warn({ kind, symbol: value.symbol }, 'value with a symbol outside the channel grammar; not fanned out');
        return;
      }
      known.add(symbol);
      const ch = channels.of(kind, symbol);
      if (!ch) {
        // Every channel has subscribers and the cap is reached: this one has none, nothing to send.
        const t = now();
        if (t - refusedLogged > 60_000) {
          refusedLogged = t;
          log.warn({ kind, symbol, maxChannels }, 'channel cap reached with every channel in use; record not kept for replay');
        }
        return;
      }
      const type = MESSAGE_TYPES[kind];
      const p = pos ? [pos.partition, pos.offset] : undefined;
      let buf: Buffer;
      try {
        // Serialised once: every subscriber gets this Buffer, and the ring keeps it for replay.
        buf = channels.push(ch, (seq) => Buffer.from(JSON.stringify({ type, channel: ch.name, seq, ...(p ? { pos: p } : {}), data: value })), pos);
      } catch (err) {
        log.error({ err, channel: ch.name }, 'value could not be serialised; not fanned out');
        return;
      }
      subscriptions.deliver(ch, buf, type, pos);
    },

    clientCount: () => clients.size,

    channelCount: () => channels.size(),

    connect(socket: HubSocket, principal?: Principal): HubConnection {
      const client = createClient(nextId++, socket, principal, limit, now());
      if (closed) {
        client.open = false;
        socket.close(CloseCodes.GOING_AWAY, 'server shutting down');
      } else {
        clients.add(client);
        m.clients.inc();
        writer.reply(client, 'hello', helloOf(settings));
      }
      return connection(client);
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
          writer.close(c, code, reason);
          n++;
        }
      }
      return n;
    },

    close(): void {
      if (closed) return;
      closed = true;
      liveness.stop();
      clearInterval(sweeper);
      for (const client of [...clients]) writer.close(client, CloseCodes.GOING_AWAY, 'server shutting down');
    },
  };
}

/**
 * The symbols that may get a channel: the configured ones always, others once a record of theirs
 * was published (the most recent maxSymbols of them). Without a configured list, any symbol.
 */
function createKnownSymbols(configured: readonly string[] | undefined, maxSymbols: number) {
  if (configured === undefined) return { has: (_: string) => true, add: (_: string) => undefined };
  const fixed = new Set(configured.map((s) => s.toUpperCase()));
  const seen = new Set<string>();
  return {
    has: (symbol: string) => fixed.has(symbol) || seen.has(symbol),
    add(symbol: string) {
      if (fixed.has(symbol)) return;
      // Re-inserted, so that the set's order is the order of last use; the oldest goes first.
      seen.delete(symbol);
      seen.add(symbol);
      if (seen.size > maxSymbols) {
        const oldest = seen.values().next();
        if (!oldest.done) seen.delete(oldest.value);
      }
    },
  };
}
