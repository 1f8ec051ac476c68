// The stream's connection lifecycle: open the socket, watch it for silence (ping, then close a
// half-open one), and on a close retry with backoff, asking REST (the probe) whether the key was
// refused or the gateway is down, since the browser cannot see why an upgrade failed.
import { backoffDelay, closeMeaning, closeWords, parseServerMessage, type ServerMessage } from './protocol.js';
import { send, setState, type SocketLike, type StreamContext, type StreamDeps } from './stream-context.js';

const SILENCE_MS = 75_000;

export interface Connection {
  /** Opens a socket now (a pending retry is cancelled). */
  connect(): void;
  /** Closes the socket for good (until the next connect). */
  stop(): void;
}

/** `onMessage` gets every message of the current socket, parsed. */
export function createConnection(ctx: StreamContext, deps: StreamDeps, onMessage: (msg: ServerMessage) => void): Connection {
  const silenceMs = deps.silenceMs ?? SILENCE_MS;
  let retryTimer: unknown = null;
  let watchdog: unknown = null;
  let lastHeard = 0;

  function watch(): void {
    deps.clearTimeout(watchdog);
    watchdog = deps.setTimeout(() => {
      if (ctx.ws === null) return;
      if (deps.now() - lastHeard >= silenceMs) {
        // A half-open connection (a sleeping laptop, a dropped network) can look open for minutes.
        ctx.ws.close(3000, 'no answer');
        return;
      }
      send(ctx, { op: 'ping' });
      watch();
    }, silenceMs / 3);
  }

  function connect(): void {
    deps.clearTimeout(retryTimer);
    retryTimer = null;
    if (!ctx.connectedOnce && ctx.attempt === 0) setState(ctx, 'connecting', 'connecting');
    else setState(ctx, 'reconnecting', `reconnecting (attempt ${ctx.attempt})`);
    let sock: SocketLike;
    try {
      sock = deps.open();
    } catch {
      scheduleRetry(1006);
      return;
    }
    ctx.ws = sock;
    lastHeard = deps.now();
    sock.onmessage = (ev) => {
      if (ctx.ws !== sock) return;
      lastHeard = deps.now();
      onMessage(parseServerMessage(ev.data));
    };
    sock.onclose = (ev) => {
      if (ctx.ws !== sock) return;
      ctx.ws = null;
      deps.clearTimeout(watchdog);
      onClose(ev.code);
    };
    sock.onerror = () => {
      // The close event follows and carries what there is to know.
    };
    watch();
  }

  function onClose(code: number): void {
    if (ctx.stopped) return;
    if (closeMeaning(code) === 'revoked') {
      setState(ctx, 'unauthorized', 'API key revoked: enter a new key');
      return;
    }
    scheduleRetry(code);
  }

  function scheduleRetry(code: number): void {
    ctx.attempt++;
    const delay = backoffDelay(ctx.attempt, deps.random());
    const later = `retry in ${Math.ceil(delay / 1000)} s`;
    setState(ctx, 'reconnecting', `${closeWords(code)}; ${later}`);
    retryTimer = deps.setTimeout(connect, delay);
    // The browser cannot see why an upgrade failed (a 401 looks like a network error): ask REST.
    void ctx.handlers.probe().then((verdict) => {
      if (ctx.stopped || ctx.ws !== null || ctx.state !== 'reconnecting') return;
      if (verdict === 'unauthorized') {
        deps.clearTimeout(retryTimer);
        setState(ctx, 'unauthorized', 'the API key was refused');
      } else if (verdict === 'offline') setState(ctx, 'offline', `gateway unreachable; ${later}`);
    });
  }

  return {
    connect,
    stop() {
      ctx.stopped = true;
      deps.clearTimeout(retryTimer);
      deps.clearTimeout(watchdog);
      const sock = ctx.ws;
      ctx.ws = null;
      sock?.close(1000, 'page closed');
    },
  };
}
