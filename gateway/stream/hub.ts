// WebSocket fan-out of predictions, protocol v1 (docs/websocket.md).
//
// The hub knows nothing about fastify or ws's server: it is handed sockets that expose the few
// members it needs (so tests can pass fakes), and it owns everything after that: the protocol,
// subscriptions, the heartbeat, slow-client eviction and shutdown.
//
// Invariants:
// - A published prediction is serialised once per channel; every subscriber gets the same Buffer,
//   so the cost per extra subscriber is one socket write, not one JSON.stringify.
// - A client whose send buffer is over maxBufferedBytes is closed (1013) and dropped before
//   anything else is written to it: a slow reader never delays the others and never holds more
//   than maxBufferedBytes (plus one message) of server memory.
// - Replies to one client come in the order of its requests: each client's requests run through
//   one promise chain, because subscribe has to wait for the snapshot source.
// - Between "subscribe" and its "subscribed" reply, live predictions for that channel are held
//   back and flushed right after the snapshot, so a subscriber never sees a live prediction before
//   its snapshot and never loses one published while the snapshot was being fetched.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Prediction } from '../../schemas/types.js';
import { errorMessage } from '../../core/errors.js';

export const PROTOCOL_VERSION = 1;
export const CHANNEL_PREFIX = 'predictions:';
export const MAX_SUBSCRIPTIONS = 50;
/** Requests from one client still waiting for their turn; beyond this a request is refused. Well
 * above MAX_SUBSCRIPTIONS so that a client may subscribe to everything in one burst. */
export const MAX_QUEUED_REQUESTS = 128;
const MAX_ID_LENGTH = 128;
const SYMBOL_RE = /^[A-Z0-9]{2,20}$/;
const CHANNEL_RE = /^predictions:([A-Za-z0-9]{2,20})$/i;

/** ws close codes used by the hub. */
export const CloseCodes = {
  GOING_AWAY: 1001,
  TRY_AGAIN_LATER: 1013,
} as const;

const OPEN = 1;

/** What the hub needs from a WebSocket (a subset of ws's WebSocket). */
export interface HubSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Buffer, options: { binary: boolean }): void;
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

/** The caller forwards the socket's events here. */
export interface HubConnection {
  receive(data: Buffer | ArrayBuffer | Buffer[] | string, isBinary: boolean): void;
  pong(): void;
  error(err: unknown): void;
  closed(): void;
}

export interface Hub {
  publish(p: Prediction): void;
  clientCount(): number;
  /** Takes over a freshly opened socket: sends hello and starts serving it. */
  connect(socket: HubSocket): HubConnection;
  /** Closes every client with 1001 and stops the heartbeat; publish and connect become no-ops. */
  close(): void;
}

export interface HubDeps {
  logger: Logger;
  registry: Registry;
  latest(symbol: string): Promise<Prediction | null>;
  maxBufferedBytes: number;
  heartbeatMs?: number;
  maxSubscriptions?: number;
}

export type ClientRequest =
  | { op: 'subscribe'; channel: string; symbol: string; id?: string | number }
  | { op: 'unsubscribe'; channel: string; symbol: string; id?: string | number }
  | { op: 'ping'; id?: string | number };

export const ProtocolErrorReasons = [
  'binary', 'json', 'not_object', 'bad_id', 'unknown_op', 'bad_channel', 'too_many_subscriptions', 'queue_full', 'too_large',
] as const;
export type ProtocolErrorReason = (typeof ProtocolErrorReasons)[number];

export type ParseResult =
  | { ok: true; request: ClientRequest }
  | { ok: false; reason: ProtocolErrorReason; message: string; id?: string | number };

/** `predictions:btcusdt` -> `{ channel: 'predictions:BTCUSDT', symbol: 'BTCUSDT' }`, or null. */
export function parseChannel(value: unknown): { channel: string; symbol: string } | null {
  if (typeof value !== 'string') return null;
  const m = CHANNEL_RE.exec(value);
  if (!m?.[1]) return null;
  const symbol = m[1].toUpperCase();
  return { channel: CHANNEL_PREFIX + symbol, symbol };
}

/** Upper-cased symbol if it fits the channel grammar, else null. */
export function normaliseSymbol(value: string): string | null {
  const s = value.toUpperCase();
  return SYMBOL_RE.test(s) ? s : null;
}

export function parseClientMessage(text: string): ParseResult {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'json', message: 'message is not valid JSON' };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    return { ok: false, reason: 'not_object', message: 'message must be a JSON object' };
  }
  const o = msg as Record<string, unknown>;
  let id: string | number | undefined;
  if (o.id !== undefined) {
    const ok = (typeof o.id === 'string' && o.id.length <= MAX_ID_LENGTH) || (typeof o.id === 'number' && Number.isFinite(o.id));
    if (!ok) return { ok: false, reason: 'bad_id', message: `id must be a string of at most ${MAX_ID_LENGTH} characters or a finite number` };
    id = o.id as string | number;
  }
  const withId = <T extends object>(r: T): T & { id?: string | number } => (id === undefined ? r : { ...r, id });
  switch (o.op) {
    case 'ping':
      return { ok: true, request: withId({ op: 'ping' as const }) };
    case 'subscribe':
    case 'unsubscribe': {
      const parsed = parseChannel(o.channel);
      if (!parsed) {
        return withId({ ok: false as const, reason: 'bad_channel' as const, message: 'channel must be "predictions:<SYMBOL>" with SYMBOL of 2 to 20 letters or digits' });
      }
      return { ok: true, request: withId({ op: o.op, ...parsed }) };
    }
    default:
      return withId({ ok: false as const, reason: 'unknown_op' as const, message: 'op must be one of "subscribe", "unsubscribe", "ping"' });
  }
}

function predictionKey(p: Prediction): string {
  return `${p.interval}|${p.eventTime}|${p.horizonSteps}|${p.modelName}|${p.modelVersion}`;
}

interface Held { buf: Buffer; key: string }

interface Subscription {
  /** Non-null while the snapshot is being fetched: live messages wait here. */
  held: Held[] | null;
  heldBytes: number;
}

interface Client {
  readonly id: number;
  readonly socket: HubSocket;
  readonly subs: Map<string, Subscription>;
  open: boolean;
  alive: boolean;
  chain: Promise<void>;
  queued: number;
}

type MessageType = 'hello' | 'subscribed' | 'unsubscribed' | 'prediction' | 'pong' | 'error';

export function createHub(deps: HubDeps): Hub {
  const log = deps.logger.child({ component: 'ws-hub' });
  const maxSubs = deps.maxSubscriptions ?? MAX_SUBSCRIPTIONS;
  const clients = new Set<Client>();
  const channels = new Map<string, Set<Client>>();
  let subscriptionCount = 0;
  let nextId = 1;
  let closed = false;

  const m = {
    clients: new Gauge({
      name: 'bitpredict_gateway_ws_clients', help: 'Connected WebSocket clients', registers: [deps.registry],
      collect() { this.set(clients.size); },
    }),
    subscriptions: new Gauge({
      name: 'bitpredict_gateway_ws_subscriptions', help: 'Channel subscriptions over all WebSocket clients', registers: [deps.registry],
      collect() { this.set(subscriptionCount); },
    }),
    sent: new Counter({
      name: 'bitpredict_gateway_ws_messages_sent_total', help: 'WebSocket messages sent, by message type', labelNames: ['type'] as const, registers: [deps.registry],
    }),
    slow: new Counter({
      name: 'bitpredict_gateway_ws_slow_disconnects_total', help: 'Clients closed with 1013 because their send buffer passed the limit', registers: [deps.registry],
    }),
    dead: new Counter({
      name: 'bitpredict_gateway_ws_dead_terminations_total', help: 'Clients terminated for missing a heartbeat pong', registers: [deps.registry],
    }),
    protocolErrors: new Counter({
      name: 'bitpredict_gateway_ws_protocol_errors_total', help: 'Client messages refused as outside the protocol, by reason', labelNames: ['reason'] as const, registers: [deps.registry],
    }),
    published: new Counter({
      name: 'bitpredict_gateway_predictions_published_total', help: 'Predictions handed to the hub for fan-out', registers: [deps.registry],
    }),
  };

  function drop(client: Client): void {
    if (!client.open) return;
    client.open = false;
    clients.delete(client);
    for (const channel of client.subs.keys()) removeFromChannel(channel, client);
    client.subs.clear();
  }

  function removeFromChannel(channel: string, client: Client): void {
    const members = channels.get(channel);
    if (!members?.delete(client)) return;
    subscriptionCount--;
    if (members.size === 0) channels.delete(channel);
  }

  function closeSocket(client: Client, code: number, reason: string): void {
    drop(client);
    try {
      client.socket.close(code, reason);
    } catch (err) {
      log.debug({ err, client: client.id }, 'close failed, terminating');
      client.socket.terminate();
    }
  }

  function evictSlow(client: Client, bufferedBytes: number): void {
    m.slow.inc();
    log.warn({ client: client.id, bufferedBytes, limit: deps.maxBufferedBytes }, 'closing slow WebSocket client');
    closeSocket(client, CloseCodes.TRY_AGAIN_LATER, 'too slow');
  }

  /** Writes unless the client is gone or too slow; false when the client was dropped. */
  function write(client: Client, buf: Buffer, type: MessageType): boolean {
    if (!client.open) return false;
    if (client.socket.readyState !== OPEN) {
      drop(client);
      return false;
    }
    const buffered = client.socket.bufferedAmount;
    if (buffered > deps.maxBufferedBytes) {
      evictSlow(client, buffered);
      return false;
    }
    try {
      client.socket.send(buf, { binary: false });
    } catch (err) {
      log.debug({ err, client: client.id }, 'send failed, dropping client');
      drop(client);
      client.socket.terminate();
      return false;
    }
    m.sent.inc({ type });
    return true;
  }

  function reply(client: Client, type: MessageType, body: Record<string, unknown>): void {
    write(client, Buffer.from(JSON.stringify({ type, ...body })), type);
  }

  function protocolError(client: Client, reason: ProtocolErrorReason, message: string, id?: string | number): void {
    m.protocolErrors.inc({ reason });
    log.debug({ client: client.id, reason }, 'WebSocket protocol error');
    reply(client, 'error', { code: 'ERR_WS_PROTOCOL', message, ...(id === undefined ? {} : { id }) });
  }

  async function subscribe(client: Client, channel: string, symbol: string, id: string | number | undefined): Promise<void> {
    let sub = client.subs.get(channel);
    if (!sub) {
      if (client.subs.size >= maxSubs) {
        protocolError(client, 'too_many_subscriptions', `at most ${maxSubs} subscriptions per connection`, id);
        return;
      }
      sub = { held: [], heldBytes: 0 };
      client.subs.set(channel, sub);
      let members = channels.get(channel);
      if (!members) channels.set(channel, (members = new Set()));
      members.add(client);
      subscriptionCount++;
    } else {
      // A repeated subscribe sends a fresh snapshot; live traffic waits behind it as for a new one.
      sub.held ??= [];
    }
    let snapshot: Prediction | null = null;
    let snapshotError: string | undefined;
    try {
      snapshot = await deps.latest(symbol);
    } catch (err) {
      log.warn({ err: errorMessage(err), symbol }, 'snapshot source failed; subscribing without a snapshot');
      snapshotError = 'snapshot unavailable';
    }
    if (!client.open || client.subs.get(channel) !== sub) return;
    const held = sub.held ?? [];
    sub.held = null;
    sub.heldBytes = 0;
    reply(client, 'subscribed', {
      channel, snapshot, ...(snapshotError === undefined ? {} : { snapshotError }), ...(id === undefined ? {} : { id }),
    });
    const skip = snapshot ? predictionKey(snapshot) : null;
    for (const h of held) {
      if (h.key === skip) continue;
      if (!write(client, h.buf, 'prediction')) return;
    }
  }

  function unsubscribe(client: Client, channel: string, id: string | number | undefined): void {
    if (client.subs.delete(channel)) removeFromChannel(channel, client);
    reply(client, 'unsubscribed', { channel, ...(id === undefined ? {} : { id }) });
  }

  async function handle(client: Client, req: ClientRequest): Promise<void> {
    if (!client.open) return;
    switch (req.op) {
      case 'ping':
        reply(client, 'pong', req.id === undefined ? {} : { id: req.id });
        return;
      case 'subscribe':
        return subscribe(client, req.channel, req.symbol, req.id);
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

  function toText(data: Buffer | ArrayBuffer | Buffer[] | string): string {
    if (typeof data === 'string') return data;
    if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
    if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
    return data.toString('utf8');
  }

  function receive(client: Client, data: Buffer | ArrayBuffer | Buffer[] | string, isBinary: boolean): void {
    if (!client.open) return;
    if (client.queued >= MAX_QUEUED_REQUESTS) {
      protocolError(client, 'queue_full', `more than ${MAX_QUEUED_REQUESTS} requests waiting; slow down`);
      return;
    }
    if (isBinary) {
      enqueue(client, () => protocolError(client, 'binary', 'binary frames are not part of the protocol; send JSON text'));
      return;
    }
    const parsed = parseClientMessage(toText(data));
    if (!parsed.ok) {
      enqueue(client, () => protocolError(client, parsed.reason, parsed.message, parsed.id));
      return;
    }
    enqueue(client, () => handle(client, parsed.request));
  }

  function heartbeat(): void {
    for (const client of [...clients]) {
      if (!client.alive) {
        m.dead.inc();
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

  const timer = setInterval(heartbeat, deps.heartbeatMs ?? 30_000);
  // The heartbeat must not keep a process alive that is otherwise done.
  timer.unref();

  return {
    publish(p: Prediction): void {
      if (closed) return;
      m.published.inc();
      const symbol = typeof p.symbol === 'string' ? normaliseSymbol(p.symbol) : null;
      if (!symbol) {
        log.warn({ symbol: p.symbol }, 'prediction with a symbol outside the channel grammar; not fanned out');
        return;
      }
      const channel = CHANNEL_PREFIX + symbol;
      const members = channels.get(channel);
      if (!members || members.size === 0) return;
      let buf: Buffer;
      try {
        buf = Buffer.from(JSON.stringify({ type: 'prediction', channel, data: p }));
      } catch (err) {
        log.error({ err, symbol }, 'prediction could not be serialised; not fanned out');
        return;
      }
      const key = predictionKey(p);
      // Copy: write() may evict a member and mutate the set while we iterate.
      for (const client of [...members]) {
        const sub = client.subs.get(channel);
        if (sub?.held) {
          if (sub.heldBytes + buf.length > deps.maxBufferedBytes) {
            evictSlow(client, sub.heldBytes + buf.length);
            continue;
          }
          sub.held.push({ buf, key });
          sub.heldBytes += buf.length;
          continue;
        }
        write(client, buf, 'prediction');
      }
    },

    clientCount: () => clients.size,

    connect(socket: HubSocket): HubConnection {
      const client: Client = {
        id: nextId++, socket, subs: new Map(), open: true, alive: true, chain: Promise.resolve(), queued: 0,
      };
      if (closed) {
        client.open = false;
        socket.close(CloseCodes.GOING_AWAY, 'server shutting down');
      } else {
        clients.add(client);
        reply(client, 'hello', { protocol: PROTOCOL_VERSION, channels: [`${CHANNEL_PREFIX}<symbol>`], maxSubscriptions: maxSubs });
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
          if (socket.readyState === OPEN) socket.terminate();
        },
        closed: () => drop(client),
      };
    },

    close(): void {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      for (const client of [...clients]) closeSocket(client, CloseCodes.GOING_AWAY, 'server shutting down');
    },
  };
}
