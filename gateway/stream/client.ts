// One WebSocket client of the hub: its state, its rate limit and every write to its socket.
//
// Invariants:
// - A client whose send buffer is over maxBufferedBytes is closed (4008) and dropped before
//   anything else is written to it: a slow reader never delays the others and never holds more
//   than maxBufferedBytes (plus one message) of server memory.
// - Everything written to one client within one event-loop turn leaves in one system call: its
//   socket is corked at the turn's first write and uncorked once after the turn (see createWriter).
// - A client sends at most `rate` messages per second on average, `burst` at once (token bucket);
//   what it sends beyond is refused, never queued.
import type { Logger } from '../../core/logger.js';
import type { HubMetrics } from './metrics.js';
import { CloseCodes, echoId, type MessageType, type ProtocolErrorReason, type RequestId } from './protocol.js';

export const DEFAULT_CLIENT_RATE = 20;

/** ws's WebSocket.OPEN. */
export const SOCKET_OPEN = 1;

/** What the hub needs from a WebSocket (a subset of ws's WebSocket). */
export interface HubSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Buffer, options: { binary: boolean }): void;
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
  /**
   * Optional: hold writes in the socket's buffer until uncork (the underlying net.Socket's
   * cork/uncork). With them, everything written to one client within one event-loop turn leaves
   * in one system call instead of one per message.
   */
  cork?(): void;
  uncork?(): void;
}

/** Who opened a connection (from the API key at upgrade; null key id in open mode). */
export interface Principal {
  keyId: string | null;
  name: string;
}

export interface Subscription {
  /** Non-null while the snapshot is being fetched: live messages wait here. */
  held: Buffer[] | null;
  heldBytes: number;
  /** After a cursor resume on a hub behind the client: per partition, the offset up to which it has every record. */
  skip: Map<number, number> | null;
}

export interface Client {
  readonly id: number;
  readonly socket: HubSocket;
  readonly principal: Principal | undefined;
  readonly subs: Map<string, Subscription>;
  open: boolean;
  alive: boolean;
  chain: Promise<void>;
  queued: number;
  lastSeen: number;
  tokens: number;
  tokensAt: number;
  /** Refused messages in the current one-second window, and whether its error was sent. */
  refusedWindowStart: number;
  refused: number;
  /** Closing for the rate limit: its frames are ignored while the replies before the close drain. */
  closing: boolean;
  /** Corked during this event-loop turn (uncorked by the turn's flush). */
  corked: boolean;
}

export interface RateLimit {
  /** Messages per second. */
  readonly rate: number;
  /** Messages at once: the bucket's size, and how many refusals in a second end the connection. */
  readonly burst: number;
}

export function rateLimitOf(rate: number): RateLimit {
  return { rate, burst: rate * 2 };
}

/** A new client with a full token bucket, seen now. */
export function createClient(id: number, socket: HubSocket, principal: Principal | undefined, limit: RateLimit, t: number): Client {
  return {
    id,
    socket,
    principal,
    subs: new Map(),
    open: true,
    alive: true,
    chain: Promise.resolve(),
    queued: 0,
    lastSeen: t,
    tokens: limit.burst,
    tokensAt: t,
    refusedWindowStart: t,
    refused: 0,
    closing: false,
    corked: false,
  };
}

/** Token bucket: true if the client may send one more message now. */
export function takeToken(client: Client, limit: RateLimit, t: number): boolean {
  client.tokens = Math.min(limit.burst, client.tokens + ((t - client.tokensAt) * limit.rate) / 1000);
  client.tokensAt = t;
  if (client.tokens >= 1) {
    client.tokens -= 1;
    return true;
  }
  return false;
}

/** Counts one refused message in the current one-second window; the count so far in it. */
export function countRefused(client: Client, t: number): number {
  if (t - client.refusedWindowStart >= 1000) {
    client.refusedWindowStart = t;
    client.refused = 0;
  }
  return ++client.refused;
}

/** Everything the hub writes to a client or closes it with. */
export interface ClientWriter {
  /** Writes unless the client is gone or too slow; false when the client was dropped. */
  write(client: Client, buf: Buffer, type: MessageType): boolean;
  reply(client: Client, type: MessageType, body: Record<string, unknown>): boolean;
  /** Counts the refusal and tells the client why (echoing the request's id). */
  protocolError(client: Client, reason: ProtocolErrorReason, message: string, id?: RequestId): void;
  /** Drops the client and closes its socket (terminates it if close throws). */
  close(client: Client, code: number, reason: string): void;
  /** Closes a client whose buffered bytes passed the limit (4008). */
  evictSlow(client: Client, bufferedBytes: number): void;
}

export interface WriterDeps {
  log: Logger;
  metrics: Pick<HubMetrics, 'sent' | 'closes' | 'protocolErrors'>;
  maxBufferedBytes: number;
  /** Forgets the client (the hub's client set, its subscriptions); the socket is not touched. */
  drop(client: Client): void;
}

export function createWriter(deps: WriterDeps): ClientWriter {
  const { log, metrics: m, maxBufferedBytes, drop } = deps;

  function close(client: Client, code: number, reason: string): void {
    drop(client);
    try {
      client.socket.close(code, reason);
    } catch (err) {
      log.debug({ err, client: client.id }, 'close failed, terminating');
      client.socket.terminate();
    }
  }

  function evictSlow(client: Client, bufferedBytes: number): void {
    m.closes.inc({ reason: 'too_slow' });
    log.warn({ client: client.id, key: client.principal?.keyId ?? null, bufferedBytes, limit: maxBufferedBytes }, 'closing slow WebSocket client (4008)');
    close(client, CloseCodes.TOO_SLOW, 'too slow: send buffer over the limit');
  }

  // Write coalescing: a client's socket is corked at its first write in an event-loop turn and
  // uncorked once, after the turn (setImmediate), so the messages of a Kafka batch (or a fan-out
  // that falls behind) leave in one system call per client, not one per message. The send-buffer
  // check still sees corked bytes (ws counts them in bufferedAmount).
  let corked: Client[] = [];
  function uncorkAll(): void {
    const list = corked;
    corked = [];
    for (const c of list) {
      c.corked = false;
      try {
        c.socket.uncork?.();
      } catch (err) {
        log.debug({ err, client: c.id }, 'uncork failed');
      }
    }
  }

  function write(client: Client, buf: Buffer, type: MessageType): boolean {
    if (!client.open) return false;
    if (client.socket.readyState !== SOCKET_OPEN) {
      drop(client);
      return false;
    }
    const buffered = client.socket.bufferedAmount;
    if (buffered > maxBufferedBytes) {
      evictSlow(client, buffered);
      return false;
    }
    if (!client.corked && client.socket.cork) {
      client.socket.cork();
      client.corked = true;
      corked.push(client);
      if (corked.length === 1) setImmediate(uncorkAll);
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

  function reply(client: Client, type: MessageType, body: Record<string, unknown>): boolean {
    return write(client, Buffer.from(JSON.stringify({ type, ...body })), type);
  }

  function protocolError(client: Client, reason: ProtocolErrorReason, message: string, id?: RequestId): void {
    m.protocolErrors.inc({ reason });
    log.debug({ client: client.id, reason }, 'WebSocket protocol error');
    reply(client, 'error', { code: reason === 'rate_limited' ? 'ERR_RATE_LIMITED' : 'ERR_WS_PROTOCOL', reason, message, ...echoId(id) });
  }

  return { write, reply, protocolError, close, evictSlow };
}
