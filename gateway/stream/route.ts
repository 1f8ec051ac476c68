// The hub's side of fastify: the WebSocket plugin, the /ws route and the shutdown order. The
// route declares scope 'read', so the app's onRequest hook refuses an upgrade with a plain HTTP
// 401/403 before any WebSocket exists (gateway/app.ts). After it, the connection caps: at most
// so many open WebSockets per API key and per client address, the next upgrade refused with 429.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { Logger } from '../../core/logger.js';
import { counter, type Registry } from '../../core/metrics.js';
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

/**
 * Answers a request that asked for a WebSocket upgrade with a plain HTTP refusal. The socket was
 * taken out of the HTTP server's keep-alive handling and nothing reads it any more, so the server
 * would never notice the client hanging up and close() would wait on it forever: answer, then
 * close it.
 */
export function refuseUpgrade(req: FastifyRequest, reply: FastifyReply): void {
  reply.header('connection', 'close');
  reply.raw.once('finish', () => req.raw.socket.destroy());
}

export interface ConnectionCaps {
  /** Open WebSockets one API key may hold; 0: no cap. */
  perKey: number;
  /** Open WebSockets one client address may hold (req.ip: behind a trusted proxy, the client's); 0: no cap. */
  perAddress: number;
}

/** Open WebSocket counts per key and per address; an entry goes when its count reaches 0. */
function createConnectionCounts(caps: ConnectionCaps) {
  const byKey = new Map<string, number>();
  const byAddress = new Map<string, number>();
  const dec = (m: Map<string, number>, k: string): void => {
    const n = (m.get(k) ?? 0) - 1;
    if (n <= 0) m.delete(k);
    else m.set(k, n);
  };
  return {
    /** null and counted, or which cap the connection would break (nothing counted). */
    acquire(keyId: string | null, address: string): 'key' | 'address' | null {
      if (keyId !== null && caps.perKey > 0 && (byKey.get(keyId) ?? 0) >= caps.perKey) return 'key';
      if (caps.perAddress > 0 && (byAddress.get(address) ?? 0) >= caps.perAddress) return 'address';
      if (keyId !== null) byKey.set(keyId, (byKey.get(keyId) ?? 0) + 1);
      byAddress.set(address, (byAddress.get(address) ?? 0) + 1);
      return null;
    },
    release(keyId: string | null, address: string): void {
      if (keyId !== null) dec(byKey, keyId);
      dec(byAddress, address);
    },
  };
}

export interface StreamRouteOptions {
  hub: Hub;
  log: Logger;
  /** How long app.close() waits for clients to answer the 1001 close before cutting them off. */
  closeGraceMs: number;
  registry: Registry;
  /** Absent: no caps. */
  caps?: ConnectionCaps;
}

/** Registers @fastify/websocket and GET /ws, which hands every accepted socket to the hub. */
export async function registerStreamRoute(app: FastifyInstance, options: StreamRouteOptions): Promise<void> {
  const { hub, log, closeGraceMs } = options;
  const connections = new WeakMap<WebSocket, HubConnection>();
  const caps = options.caps ?? { perKey: 0, perAddress: 0 };
  const counts = createConnectionCounts(caps);
  const refused = counter(
    options.registry,
    'bitpredict_gateway_connections_refused_total',
    'WebSocket upgrades refused with 429 because the API key (BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_KEY) or the client address (BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS) holds its maximum of open connections',
    ['limit'],
  );

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

  // Runs after the app's auth hook (app hooks first), so the principal is known. A connection
  // counts from its upgrade request until its TCP socket closes, whichever way it ends.
  const capHook = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return undefined;
    const keyId = req.principal?.keyId ?? null;
    const address = req.ip;
    const over = counts.acquire(keyId, address);
    if (over === null) {
      req.raw.socket.once('close', () => counts.release(keyId, address));
      return undefined;
    }
    refused.inc({ limit: over });
    const message =
      over === 'key'
        ? `API key ${keyId ?? ''} already holds ${caps.perKey} open WebSockets (BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_KEY); close one first`
        : `address ${address} already holds ${caps.perAddress} open WebSockets (BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS); close one first`;
    log.info({ keyId, address, limit: over }, 'WebSocket upgrade refused: connection cap');
    refuseUpgrade(req, reply);
    return reply.code(429).header('retry-after', '10').send({ code: 'ERR_RATE_LIMITED', message });
  };

  app.get('/ws', { websocket: true, config: { scope: 'read' }, onRequest: capHook }, (socket, req) => {
    const conn = hub.connect(hubSocketOf(socket), req.principal ? { keyId: req.principal.keyId, name: req.principal.name } : undefined);
    connections.set(socket, conn);
    socket.on('message', (data, isBinary) => conn.receive(data, isBinary));
    socket.on('pong', () => conn.pong());
    socket.on('close', () => conn.closed());
  });
}
