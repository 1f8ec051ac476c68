// What a client sends: each frame is rate limited, parsed and queued on the client's own promise
// chain, then answered.
//
// Invariants:
// - Replies to one client come in the order of its requests: each client's requests run through
//   one promise chain, because subscribe has to wait for the snapshot source. The refusal of a
//   frame is queued on the same chain, so it comes in order too; only queue_full is answered at
//   once, since the queue is what it refuses.
// - A client's queue is bounded (MAX_QUEUED_REQUESTS); beyond it a request is refused at once
//   instead of queued.
// - Refusals over the rate limit are answered at most once a second; a client that keeps on
//   after `burst` refusals in a second is closed (4029), after the replies already queued.
import type { Logger } from '../../core/logger.js';
import { countRefused, takeToken, type Client, type ClientWriter, type RateLimit } from './client.js';
import type { HubMetrics } from './metrics.js';
import { CloseCodes, echoId, frameText, parseClientMessage, type ClientRequest } from './protocol.js';
import type { Subscriptions } from './subscriptions.js';

/** Requests from one client still waiting for their turn; beyond this a request is refused. Well
 * above MAX_SUBSCRIPTIONS so that a client may subscribe to everything in one burst. */
export const MAX_QUEUED_REQUESTS = 128;

export interface Requests {
  /** Takes one frame from the client (ws's 'message' event). */
  receive(client: Client, data: Buffer | ArrayBuffer | Buffer[] | string, isBinary: boolean): void;
}

export interface RequestsDeps {
  log: Logger;
  metrics: Pick<HubMetrics, 'closes' | 'protocolErrors'>;
  writer: ClientWriter;
  subscriptions: Subscriptions;
  limit: RateLimit;
  now: () => number;
}

export function createRequests(deps: RequestsDeps): Requests {
  const { log, metrics: m, writer, subscriptions, limit, now } = deps;
  const { rate, burst } = limit;
  const { protocolError } = writer;

  async function handle(client: Client, req: ClientRequest): Promise<void> {
    if (!client.open) return;
    switch (req.op) {
      case 'ping':
        writer.reply(client, 'pong', echoId(req.id));
        return;
      case 'subscribe':
        return subscriptions.subscribe(client, req);
      case 'unsubscribe':
        subscriptions.unsubscribe(client, req.channel, req.id);
        return;
    }
  }

  function enqueue(client: Client, task: () => Promise<void> | void): void {
    client.queued++;
    client.chain = client.chain
      .then(task)
      .catch((err: unknown) => log.error({ err, client: client.id }, 'WebSocket request failed'))
      .finally(() => {
        client.queued--;
      });
  }

  function rateLimited(client: Client, t: number): void {
    const refused = countRefused(client, t);
    // One error per second at most: refusing a flood must not answer it with a flood.
    // Queued behind the requests already accepted, so replies keep the order of the requests.
    if (refused === 1)
      enqueue(client, () => protocolError(client, 'rate_limited', `more than ${rate} messages per second (burst ${burst}); messages are being dropped`));
    else m.protocolErrors.inc({ reason: 'rate_limited' });
    if (refused > burst && !client.closing) {
      // Nothing more is read from it; the close waits behind the replies to the requests that
      // were accepted (and the rate-limit error), so the client learns why before 4029 arrives.
      client.closing = true;
      m.closes.inc({ reason: 'rate_limited' });
      log.warn({ client: client.id, key: client.principal?.keyId ?? null, rate }, 'closing WebSocket client that keeps sending over its rate limit (4029)');
      enqueue(client, () => writer.close(client, CloseCodes.RATE_LIMITED, 'rate limit exceeded'));
      // A request stuck on a snapshot must not keep the connection open.
      setTimeout(() => {
        if (client.open) writer.close(client, CloseCodes.RATE_LIMITED, 'rate limit exceeded');
      }, 5000).unref();
    }
  }

  return {
    receive(client, data, isBinary) {
      if (!client.open || client.closing) return;
      const t = now();
      client.lastSeen = t;
      if (!takeToken(client, limit, t)) {
        rateLimited(client, t);
        return;
      }
      if (client.queued >= MAX_QUEUED_REQUESTS) {
        protocolError(client, 'queue_full', `more than ${MAX_QUEUED_REQUESTS} requests waiting; slow down`);
        return;
      }
      if (isBinary) {
        enqueue(client, () => protocolError(client, 'binary', 'binary frames are not part of the protocol; send JSON text'));
        return;
      }
      const parsed = parseClientMessage(frameText(data));
      if (!parsed.ok) {
        enqueue(client, () => protocolError(client, parsed.reason, parsed.message, parsed.id));
        return;
      }
      enqueue(client, () => handle(client, parsed.request));
    },
  };
}
