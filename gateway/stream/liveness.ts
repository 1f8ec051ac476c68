// The hub's two timers: the heartbeat (ping every client; terminate one that did not answer the
// previous ping) and the idle sweep (close a client with no subscription that has sent nothing
// for the idle timeout, 4000). Neither timer may keep a process alive that is otherwise done.
import type { Logger } from '../../core/logger.js';
import type { Client, ClientWriter } from './client.js';
import type { HubMetrics } from './metrics.js';
import { CloseCodes } from './protocol.js';

export interface LivenessDeps {
  log: Logger;
  metrics: Pick<HubMetrics, 'closes'>;
  clients: ReadonlySet<Client>;
  writer: ClientWriter;
  /** Forgets the client (the hub's client set, its subscriptions); the socket is not touched. */
  drop(client: Client): void;
  heartbeatMs: number;
  /** 0: no idle timeout. */
  idleMs: number;
  now: () => number;
}

export interface Liveness {
  stop(): void;
}

/** Starts the timers. */
export function startLiveness(deps: LivenessDeps): Liveness {
  const { log, metrics: m, clients, drop, idleMs, now } = deps;

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
        deps.writer.close(client, CloseCodes.IDLE, 'idle: no subscription and no message');
      }
    }
  }

  const timers = [setInterval(heartbeat, deps.heartbeatMs)];
  // Swept at a quarter of the timeout, so a client is closed between 1 and 1.25 timeouts idle.
  if (idleMs > 0) timers.push(setInterval(idleSweep, Math.max(25, idleMs / 4)));
  for (const t of timers) t.unref();
  return {
    stop() {
      for (const t of timers) clearInterval(t);
    },
  };
}
