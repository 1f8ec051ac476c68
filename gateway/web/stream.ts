// The WebSocket client (protocol v2, docs/websocket.md): one connection, the four channels of the
// symbol on view, a resume point per channel, reconnects with backoff, and a refill from REST
// (through the page's onGap) whenever messages were lost: a gap answered to a resume, or a hole
// in the seqs. The socket, the timers and the randomness are passed in, so the decisions run in
// tests without a browser.
import {
  backoffDelay,
  CHANNEL_KINDS,
  channelOf,
  closeMeaning,
  closeWords,
  parseServerMessage,
  reconnectState,
  seqStep,
  splitChannel,
  subscribeRequest,
  type ChannelKind,
  type Cursor,
  type ResumeOutcome,
  type ServerMessage,
} from './protocol.js';

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

const OPEN = 1;

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

export interface Stream {
  /** Connects (or reconnects at once) and subscribes to the channels of `symbol`. */
  start(symbol: string): void;
  /** Moves to another symbol on the same connection: unsubscribe, forget the resume points, subscribe. */
  switchSymbol(symbol: string): void;
  stop(): void;
  readonly state: ConnState;
}

const SILENCE_MS = 75_000;

export function createStream(deps: StreamDeps): Stream {
  const h = deps.handlers;
  const silenceMs = deps.silenceMs ?? SILENCE_MS;
  let symbol = '';
  let ws: SocketLike | null = null;
  let stopped = true;
  let state: ConnState = 'connecting';
  /** Failed connections in a row; 0 after a handshake. */
  let attempt = 0;
  let connectedOnce = false;
  let epoch: string | null = null;
  let nextId = 1;
  let retryTimer: unknown = null;
  let watchdog: unknown = null;
  let lastHeard = 0;
  const cursors = new Map<string, Cursor>();
  /** The answers still awaited after a (re)subscription, and how each went. */
  let pending = new Set<string>();
  let outcomes = new Map<string, ResumeOutcome>();
  let refills: Promise<boolean>[] = [];

  function setState(s: ConnState, words: string): void {
    state = s;
    h.onState(s, words);
  }

  function send(msg: object): void {
    if (ws !== null && ws.readyState === OPEN) ws.send(JSON.stringify(msg));
  }

  function channels(): string[] {
    return CHANNEL_KINDS.map((k) => channelOf(k, symbol));
  }

  function subscribeAll(): void {
    pending = new Set(channels());
    outcomes = new Map();
    refills = [];
    for (const c of pending) send(subscribeRequest(c, cursors.get(c), nextId++));
  }

  function refill(kind: ChannelKind): void {
    refills.push(h.onGap(kind).catch(() => false));
  }

  async function settle(first: boolean): Promise<void> {
    const results = await Promise.all(refills);
    const s = reconnectState([...outcomes.values()], first);
    if (results.includes(false)) setState('resumed', 'reconnected; some missed data could not be refilled from REST');
    else if (s === 'resumed-gap-filled') setState(s, 'reconnected; missed data refilled from REST');
    else if (s === 'resumed') setState(s, 'reconnected; missed messages replayed');
    // The badge says the connection is up, not that the data is live: #freshness says that.
    else setState(s, 'connected');
  }

  function answered(channel: string): void {
    if (!pending.delete(channel) || pending.size > 0) return;
    const first = !connectedOnce;
    connectedOnce = true;
    attempt = 0;
    h.onSubscribed();
    void settle(first);
  }

  function onMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case 'hello':
        epoch = msg.epoch;
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

  function onSubscribed(msg: Extract<ServerMessage, { type: 'subscribed' }>): void {
    const kind = splitChannel(msg.channel)?.kind;
    if (kind === undefined || !channels().includes(msg.channel)) {
      // An answer for a symbol left behind: undo it.
      send({ op: 'unsubscribe', channel: msg.channel });
      return;
    }
    if (epoch !== null) cursors.set(msg.channel, { epoch, seq: msg.seq });
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

  function watch(): void {
    deps.clearTimeout(watchdog);
    watchdog = deps.setTimeout(() => {
      if (ws === null) return;
      if (deps.now() - lastHeard >= silenceMs) {
        // A half-open connection (a sleeping laptop, a dropped network) can look open for minutes.
        ws.close(3000, 'no answer');
        return;
      }
      send({ op: 'ping' });
      watch();
    }, silenceMs / 3);
  }

  function connect(): void {
    deps.clearTimeout(retryTimer);
    retryTimer = null;
    if (!connectedOnce && attempt === 0) setState('connecting', 'connecting');
    else setState('reconnecting', `reconnecting (attempt ${attempt})`);
    let sock: SocketLike;
    try {
      sock = deps.open();
    } catch {
      scheduleRetry(1006);
      return;
    }
    ws = sock;
    lastHeard = deps.now();
    sock.onmessage = (ev) => {
      if (ws !== sock) return;
      lastHeard = deps.now();
      onMessage(parseServerMessage(ev.data));
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      deps.clearTimeout(watchdog);
      onClose(ev.code);
    };
    sock.onerror = () => {
      // The close event follows and carries what there is to know.
    };
    watch();
  }

  function onClose(code: number): void {
    if (stopped) return;
    if (closeMeaning(code) === 'revoked') {
      setState('unauthorized', 'API key revoked: enter a new key');
      return;
    }
    scheduleRetry(code);
  }

  function scheduleRetry(code: number): void {
    attempt++;
    const delay = backoffDelay(attempt, deps.random());
    const later = `retry in ${Math.ceil(delay / 1000)} s`;
    setState('reconnecting', `${closeWords(code)}; ${later}`);
    retryTimer = deps.setTimeout(connect, delay);
    // The browser cannot see why an upgrade failed (a 401 looks like a network error): ask REST.
    void h.probe().then((verdict) => {
      if (stopped || ws !== null || state !== 'reconnecting') return;
      if (verdict === 'unauthorized') {
        deps.clearTimeout(retryTimer);
        setState('unauthorized', 'the API key was refused');
      } else if (verdict === 'offline') setState('offline', `gateway unreachable; ${later}`);
    });
  }

  return {
    start(s) {
      symbol = s;
      stopped = false;
      if (ws !== null) {
        subscribeAll();
        return;
      }
      connect();
    },
    switchSymbol(s) {
      if (s === symbol) return;
      for (const c of channels()) send({ op: 'unsubscribe', channel: c });
      cursors.clear();
      symbol = s;
      if (ws !== null && ws.readyState === OPEN && epoch !== null) subscribeAll();
    },
    stop() {
      stopped = true;
      deps.clearTimeout(retryTimer);
      deps.clearTimeout(watchdog);
      const sock = ws;
      ws = null;
      sock?.close(1000, 'page closed');
    },
    get state() {
      return state;
    },
  };
}
