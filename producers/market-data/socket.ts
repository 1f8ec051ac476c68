// One exchange WebSocket that stays connected: jittered exponential backoff between attempts, and
// a watchdog that terminates a socket silent for heartbeatTimeoutMs (a half-open TCP connection
// never reports an error by itself). Every successful open calls onOpen, which is where the
// service plans its gap fill: a planned disconnect (Binance's 24 h limit) looks the same as a
// failure, and both are handled the same way.
import WebSocket from 'ws';
import type { Logger } from '../../core/logger.js';
import { errorMessage } from '../../core/errors.js';
import { backoffDelay } from './domain/backoff.js';

export interface ReconnectingSocket {
  start(): void;
  stop(): Promise<void>;
  send(text: string): void;
  readonly connected: boolean;
}

export function createReconnectingSocket(opts: {
  name: string;
  url: string;
  logger: Logger;
  heartbeatTimeoutMs: number;
  baseMs: number;
  maxMs: number;
  random: () => number;
  /** Largest frame accepted; a bigger one closes the socket (ws enforces it while reading). */
  maxPayload?: number;
  onOpen(): void;
  onMessage(data: Buffer): void;
  onDisconnect(reason: string): void;
}): ReconnectingSocket {
  const { logger } = opts;
  let ws: WebSocket | null = null;
  let stopped = true;
  let connected = false;
  let attempt = 0;
  let lastMessageAt = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let watchdog: NodeJS.Timeout | null = null;
  let closedPromise: Promise<void> = Promise.resolve();

  function connect(): void {
    retryTimer = null;
    if (stopped) return;
    const sock = new WebSocket(opts.url, { maxPayload: opts.maxPayload ?? 1 << 20, handshakeTimeout: opts.heartbeatTimeoutMs });
    ws = sock;
    let reason = 'closed';
    closedPromise = new Promise((resolve) => {
      sock.once('close', (code) => {
        if (watchdog) clearInterval(watchdog);
        watchdog = null;
        const wasConnected = connected;
        connected = false;
        ws = null;
        resolve();
        if (wasConnected) opts.onDisconnect(`${reason} (${code})`);
        if (stopped) return;
        const delay = backoffDelay(attempt++, opts.baseMs, opts.maxMs, opts.random);
        logger.warn({ socket: opts.name, code, reason, delayMs: delay, attempt }, 'exchange socket closed; reconnecting');
        retryTimer = setTimeout(connect, delay);
      });
    });
    sock.on('open', () => {
      connected = true;
      lastMessageAt = Date.now();
      watchdog = setInterval(
        () => {
          if (Date.now() - lastMessageAt > opts.heartbeatTimeoutMs) {
            reason = 'heartbeat timeout';
            logger.warn({ socket: opts.name, silentMs: Date.now() - lastMessageAt }, 'exchange socket silent; terminating');
            sock.terminate();
          }
        },
        Math.max(10, Math.min(1000, Math.floor(opts.heartbeatTimeoutMs / 4))),
      );
      logger.info({ socket: opts.name }, 'exchange socket open');
      opts.onOpen();
    });
    sock.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      lastMessageAt = Date.now();
      // Reset only once data flows: a server that accepts and drops at once must still back off.
      attempt = 0;
      opts.onMessage(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
    });
    // Binance keeps quiet streams alive with protocol pings (ws answers them itself); they prove
    // the connection is alive as much as data does.
    sock.on('ping', () => {
      lastMessageAt = Date.now();
    });
    sock.on('error', (err) => {
      reason = errorMessage(err);
      logger.warn({ socket: opts.name, err }, 'exchange socket error');
    });
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      connect();
    },
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      if (ws) {
        ws.terminate();
        await closedPromise;
      }
    },
    send(text) {
      if (ws && connected) ws.send(text);
    },
    get connected() {
      return connected;
    },
  };
}
