// What the stream's two halves share: the types of its socket and handlers, and one small context
// object with the connection's state (which the connection sets and the subscriptions read).
import type { ChannelKind } from './protocol.js';

export type ConnState = 'connecting' | 'live' | 'reconnecting' | 'resumed' | 'resumed-gap-filled' | 'unauthorized' | 'offline';

/** The part of a browser WebSocket the client uses. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export const OPEN = 1;

/** What the gateway answered a probe after a failed connection: it tells a wrong key from a gateway that is down. */
export type ProbeVerdict = 'ok' | 'unauthorized' | 'offline';

export interface StreamHandlers {
  /** A pushed record of the symbol on view, in seq order, each once. */
  onRecord(kind: ChannelKind, data: unknown): void;
  /** A fresh subscription's snapshot (the latest records). */
  onSnapshot(kind: ChannelKind, items: readonly unknown[]): void;
  /** Messages of `kind` were lost: refill them from REST; resolves when done (false: the refill failed). */
  onGap(kind: ChannelKind): Promise<boolean>;
  /** Every channel of the symbol answered its subscription (after each connect and symbol change). */
  onSubscribed(): void;
  onState(state: ConnState, words: string): void;
  /** A frame outside the protocol, or an error reply: shown, never thrown. */
  onProblem(words: string): void;
  /** After a failed connection: is the key refused, is the gateway down? */
  probe(): Promise<ProbeVerdict>;
}

export interface StreamDeps {
  /** Opens a socket to the gateway's /ws (with ?api_key= when there is a key). */
  open(): SocketLike;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  random(): number;
  now(): number;
  handlers: StreamHandlers;
  /** A connection that has received nothing (not even a pong) for this long is closed and reopened. */
  silenceMs?: number;
}

/** One stream's shared state. */
export interface StreamContext {
  readonly handlers: StreamHandlers;
  /** The symbol whose channels are wanted. */
  symbol: string;
  /** The socket in use (null while closed or waiting to retry). */
  ws: SocketLike | null;
  stopped: boolean;
  state: ConnState;
  /** Failed connections in a row; 0 after a handshake. */
  attempt: number;
  connectedOnce: boolean;
  /** The server's epoch from its hello: resume points are only valid within it. */
  epoch: string | null;
}

export function setState(ctx: StreamContext, s: ConnState, words: string): void {
  ctx.state = s;
  ctx.handlers.onState(s, words);
}

/** Sends `msg` when the socket is open; dropped otherwise (the next connect subscribes again). */
export function send(ctx: StreamContext, msg: object): void {
  if (ctx.ws !== null && ctx.ws.readyState === OPEN) ctx.ws.send(JSON.stringify(msg));
}
