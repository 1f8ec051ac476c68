// The hub's side of fastify: the WebSocket plugin, the /ws route and the shutdown order. The
// route declares scope 'read', so the app's onRequest hook refuses an upgrade with a plain HTTP
// 401/403 before any WebSocket exists (gateway/app.ts).
import type { FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { Logger } from '../../core/logger.js';
import { CloseCodes, type Hub, type HubConnection, type HubSocket } from './hub.js';

/** 64 KiB: far above any protocol message, low enough that one frame cannot eat memory. */
export const WS_MAX_PAYLOAD = 64 * 1024;

/**
 * The hub's view of a ws socket, with the underlying TCP socket's cork/uncork so the hub can
 * coalesce one turn's writes to a client into one system call (ws exposes no cork of its own).
 * A class, so that each connection costs two fields and no closures.
 */
class WsHubSocket implements HubSocket {
  constructor(
    private readonly ws: WebSocket,
    private readonly raw: { cork(): void; uncork(): void },
  ) {}
  get readyState(): number {
    return this.ws.readyState;
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
  send(data: Buffer, options: { binary: boolean }): void {
    this.ws.send(data, options);
  }
  ping(): void {
    this.ws.ping();
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
  cork(): void {
    this.raw.cork();
  }
  uncork(): void {
    this.raw.uncork();
  }
}

function hubSocketOf(ws: WebSocket): HubSocket {
  const raw = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  return raw ? new WsHubSocket(ws, raw) : ws;
}

function waitForClose(socket: WebSocket): Promise<void> {
  if (socket.readyState === socket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

export interface StreamRouteOptions {
  hub: Hub;
  log: Logger;
  /** How long app.close() waits for clients to answer the 1001 close before cutting them off. */
  closeGraceMs: number;
}

/** Registers @fastify/websocket and GET /ws, which hands every accepted socket to the hub. */
export async function registerStreamRoute(app: FastifyInstance, options: StreamRouteOptions): Promise<void> {
  const { hub, log, closeGraceMs } = options;
  const connections = new WeakMap<WebSocket, HubConnection>();

  await app.register(websocket, {
    options: { maxPayload: WS_MAX_PAYLOAD, perMessageDeflate: false },
    // Socket errors (oversized frame, reset) and handler failures; the hub decides what to close.
    errorHandler(err, socket) {
      const conn = connections.get(socket);
      if (conn) conn.error(err);
      else {
        log.warn({ err }, 'WebSocket error before the hub took the socket');
        socket.terminate();
      }
    },
    // Shutdown order: every client gets 1001 first, then a grace period for the close handshake,
    // then stragglers are cut off so that closing the HTTP server never waits on a dead peer.
    preClose: async () => {
      hub.close();
      const wss = app.websocketServer;
      for (const socket of wss.clients) {
        if (socket.readyState === socket.OPEN) socket.close(CloseCodes.GOING_AWAY, 'server shutting down');
      }
      const pending = [...wss.clients].map(waitForClose);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(pending),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, closeGraceMs);
        }),
      ]);
      clearTimeout(timer);
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  });

  app.get('/ws', { websocket: true, config: { scope: 'read' } }, (socket, req) => {
    const conn = hub.connect(hubSocketOf(socket), req.principal ? { keyId: req.principal.keyId, name: req.principal.name } : undefined);
    connections.set(socket, conn);
    socket.on('message', (data, isBinary) => conn.receive(data, isBinary));
    socket.on('pong', () => conn.pong());
    socket.on('close', () => conn.closed());
  });
}
