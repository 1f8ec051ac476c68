// The stream's subscription bookkeeping: the four channels of the symbol on view, a resume point
// per channel, the answers awaited after each (re)subscription, and the refills from REST (through
// the page's onGap) when messages were lost: a gap answered to a resume, or a hole in the seqs.
import {
  CHANNEL_KINDS,
  channelOf,
  reconnectState,
  seqStep,
  splitChannel,
  subscribeRequest,
  type ChannelKind,
  type Cursor,
  type ResumeOutcome,
  type ServerMessage,
} from './protocol.js';
import { OPEN, send, setState, type StreamContext } from './stream-context.js';

export interface Subscriptions {
  /** Subscribes to every channel of the symbol, resuming where a cursor is kept. */
  subscribeAll(): void;
  /** A message from the server (after the connection parsed it). */
  onMessage(msg: ServerMessage): void;
  /** Unsubscribes from the old symbol's channels, forgets their resume points, subscribes to `symbol`'s. */
  switchSymbol(symbol: string): void;
}

export function createSubscriptions(ctx: StreamContext): Subscriptions {
  const h = ctx.handlers;
  let nextId = 1;
  const cursors = new Map<string, Cursor>();
  /** The answers still awaited after a (re)subscription, and how each went. */
  let pending = new Set<string>();
  let outcomes = new Map<string, ResumeOutcome>();
  let refills: Promise<boolean>[] = [];

  function channels(): string[] {
    return CHANNEL_KINDS.map((k) => channelOf(k, ctx.symbol));
  }

  function subscribeAll(): void {
    pending = new Set(channels());
    outcomes = new Map();
    refills = [];
    for (const c of pending) send(ctx, subscribeRequest(c, cursors.get(c), nextId++));
  }

  function refill(kind: ChannelKind): void {
    refills.push(h.onGap(kind).catch(() => false));
  }

  async function settle(first: boolean): Promise<void> {
    const results = await Promise.all(refills);
    const s = reconnectState([...outcomes.values()], first);
    if (results.includes(false)) setState(ctx, 'resumed', 'reconnected; some missed data could not be refilled from REST');
    else if (s === 'resumed-gap-filled') setState(ctx, s, 'reconnected; missed data refilled from REST');
    else if (s === 'resumed') setState(ctx, s, 'reconnected; missed messages replayed');
    // The badge says the connection is up, not that the data is live: #freshness says that.
    else setState(ctx, s, 'connected');
  }

  function answered(channel: string): void {
    if (!pending.delete(channel) || pending.size > 0) return;
    const first = !ctx.connectedOnce;
    ctx.connectedOnce = true;
    ctx.attempt = 0;
    h.onSubscribed();
    void settle(first);
  }

  function onSubscribed(msg: Extract<ServerMessage, { type: 'subscribed' }>): void {
    const kind = splitChannel(msg.channel)?.kind;
    if (kind === undefined || !channels().includes(msg.channel)) {
      // An answer for a symbol left behind: undo it.
      send(ctx, { op: 'unsubscribe', channel: msg.channel });
      return;
    }
    if (ctx.epoch !== null) cursors.set(msg.channel, { epoch: ctx.epoch, seq: msg.seq });
    if (!outcomes.has(msg.channel)) outcomes.set(msg.channel, msg.resumed ? 'resumed' : 'fresh');
    if (!msg.resumed) h.onSnapshot(kind, msg.snapshot);
    if (msg.snapshotError) h.onProblem(`the ${kind} snapshot was unavailable; live messages still flow`);
    answered(msg.channel);
  }

  function onGapMessage(channel: string): void {
    const kind = splitChannel(channel)?.kind;
    if (kind === undefined || !channels().includes(channel)) return;
    outcomes.set(channel, 'gap');
    cursors.delete(channel);
    refill(kind);
  }

  function onPush(msg: Extract<ServerMessage, { type: 'push' }>): void {
    if (!channels().includes(msg.channel)) return;
    const cursor = cursors.get(msg.channel);
    const step = seqStep(cursor?.seq ?? null, msg.seq);
    if (step === 'duplicate') return;
    if (cursor !== undefined) cursor.seq = msg.seq;
    h.onRecord(msg.kind, msg.data);
    if (step === 'hole') {
      h.onProblem(`messages of ${msg.channel} were lost; refilling from REST`);
      void h.onGap(msg.kind).catch(() => false);
    }
  }

  function onMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case 'hello':
        ctx.epoch = msg.epoch;
        subscribeAll();
        return;
      case 'subscribed':
        return onSubscribed(msg);
      case 'gap':
        return onGapMessage(msg.channel);
      case 'push':
        return onPush(msg);
      case 'error':
        h.onProblem(`the gateway refused a request: ${msg.message || msg.code}`);
        return;
      case 'invalid':
        h.onProblem(`ignored a message outside the protocol (${msg.reason})`);
        return;
      default:
        return;
    }
  }

  return {
    subscribeAll,
    onMessage,
    switchSymbol(symbol) {
      if (symbol === ctx.symbol) return;
      for (const c of channels()) send(ctx, { op: 'unsubscribe', channel: c });
      cursors.clear();
      ctx.symbol = symbol;
      if (ctx.ws !== null && ctx.ws.readyState === OPEN && ctx.epoch !== null) subscribeAll();
    },
  };
}
