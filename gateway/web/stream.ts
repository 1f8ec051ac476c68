// The WebSocket client (protocol v2, docs/websocket.md): one connection (stream-connection.ts:
// reconnects with backoff, a watchdog for silence) and the four channels of the symbol on view
// (stream-subscriptions.ts: a resume point per channel, a refill from REST through the page's
// onGap whenever messages were lost). The socket, the timers and the randomness are passed in, so
// the decisions run in tests without a browser.
import { createConnection } from './stream-connection.js';
import type { ConnState, StreamContext, StreamDeps } from './stream-context.js';
import { createSubscriptions } from './stream-subscriptions.js';

export type { ConnState, ProbeVerdict, SocketLike, StreamDeps, StreamHandlers } from './stream-context.js';

export interface Stream {
  /** Connects (or reconnects at once) and subscribes to the channels of `symbol`. */
  start(symbol: string): void;
  /** Moves to another symbol on the same connection: unsubscribe, forget the resume points, subscribe. */
  switchSymbol(symbol: string): void;
  stop(): void;
  readonly state: ConnState;
}

export function createStream(deps: StreamDeps): Stream {
  const ctx: StreamContext = {
    handlers: deps.handlers,
    symbol: '',
    ws: null,
    stopped: true,
    state: 'connecting',
    attempt: 0,
    connectedOnce: false,
    epoch: null,
  };
  const subscriptions = createSubscriptions(ctx);
  const connection = createConnection(ctx, deps, (msg) => subscriptions.onMessage(msg));

  return {
    start(s) {
      ctx.symbol = s;
      ctx.stopped = false;
      if (ctx.ws !== null) {
        subscriptions.subscribeAll();
        return;
      }
      connection.connect();
    },
    switchSymbol: (s) => subscriptions.switchSymbol(s),
    stop: () => connection.stop(),
    get state() {
      return ctx.state;
    },
  };
}
