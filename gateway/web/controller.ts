// The page's controller: one session per symbol and interval, history from REST (history.ts),
// live records from the stream, and drawing per animation frame (render.ts). It owns which
// session is on view and whether the stream has been started.
import { AuthError, NetworkError, type Api } from './api.js';
import { createHistory } from './history.js';
import type { Toggles } from './indicators.js';
import type { ChannelKind } from './protocol.js';
import { createRenderer, type PageDom } from './render.js';
import { addRecord, newSession, noteProblem, type Session } from './session.js';
import type { ConnState, ProbeVerdict, Stream, StreamHandlers } from './stream.js';
import type { ChartView } from './view/chart.js';
import { renderConn } from './view/panels.js';

export type { PageDom } from './render.js';

export interface ControllerDeps {
  dom: PageDom;
  chart: ChartView;
  /** A REST client whose requests `signal` aborts. */
  api(signal: AbortSignal): Api;
  /** The stream, made once the controller's handlers exist. */
  stream(handlers: StreamHandlers): Stream;
  now(): number;
  frame(fn: () => void): void;
  mark(name: string): void;
  /** The key is missing, refused or revoked: ask for one. */
  askForKey(reason: 'needed' | 'refused' | 'revoked'): void;
}

export interface Controller {
  /** Shows `symbol` at `interval`: a new session, history from REST, the stream's channels. */
  show(symbol: string, interval: string): void;
  /** A new key was accepted: load again and reconnect. */
  keyAccepted(): void;
  toggles(t: Toggles): void;
  skillHorizonChanged(): void;
  /** Redraws the freshness badge (the wall clock moves even when no data does). */
  tick(): void;
}

export function createController(deps: ControllerDeps): Controller {
  const { dom, chart } = deps;
  let session: Session | null = null;
  let toggles: Toggles | null = null;
  let started = false;

  const shown = (): Session | null => session;
  const renderer = createRenderer({ dom, chart, shown, now: () => deps.now(), frame: (fn) => deps.frame(fn), mark: (name) => deps.mark(name) });
  const stream = deps.stream({
    onRecord: (kind, data) => onRecord(kind, data),
    onSnapshot: (kind, items) => {
      for (const x of items) onRecord(kind, x, false);
    },
    onGap: (kind) => history.refill(kind),
    onSubscribed: () => {
      if (session !== null) session.subscribed = true;
      renderer.request();
    },
    onState: (state, words) => onConnState(state, words),
    onProblem: (words) => problem(words),
    probe: () => probe(),
  });
  const history = createHistory({
    shown,
    now: () => deps.now(),
    connect: (symbol) => {
      if (started) return;
      started = true;
      stream.start(symbol);
    },
    changed: () => renderer.request(),
    problem: (words) => problem(words),
  });

  function current(): Session {
    if (session === null) throw new Error('no series shown yet');
    return session;
  }

  function problem(words: string): void {
    if (session === null) return;
    noteProblem(session, words);
    renderer.request();
  }

  function onRecord(kind: ChannelKind, data: unknown, live = true): void {
    if (session === null) return;
    addRecord(session, kind, data, live, () => deps.now());
    renderer.request();
  }

  function onConnState(state: ConnState, words: string): void {
    renderConn(dom.conn, state, words);
    if (state === 'unauthorized') deps.askForKey(words.includes('revoked') ? 'revoked' : 'refused');
  }

  async function probe(): Promise<ProbeVerdict> {
    try {
      await current().api.models();
      return 'ok';
    } catch (err) {
      if (err instanceof AuthError) return 'unauthorized';
      return err instanceof NetworkError ? 'offline' : 'ok';
    }
  }

  function start(s: Session): void {
    history.backfill(s).catch((err: unknown) => {
      if (s !== session) return;
      if (err instanceof AuthError) {
        renderConn(dom.conn, 'unauthorized', 'API key needed');
        deps.askForKey('needed');
      } else if (err instanceof NetworkError) {
        renderConn(dom.conn, 'offline', 'gateway unreachable; reload to retry');
      } else problem(`history unavailable: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  function show(symbol: string, interval: string): void {
    const old = session;
    old?.abort.abort();
    const s = newSession(symbol, interval, (signal) => deps.api(signal));
    // Same symbol: the channels (which carry every interval) stay subscribed.
    s.subscribed = old !== null && old.store.symbol === symbol && old.subscribed;
    session = s;
    renderer.reset(toggles);
    s.store.changes = { candlesFrom: null, featuresFrom: null, predictions: true, scores: true, models: true };
    if (started && old !== null && old.store.symbol !== symbol) stream.switchSymbol(symbol);
    renderer.request();
    start(s);
  }

  return {
    show,
    keyAccepted() {
      const { symbol, interval } = current().store;
      current().abort.abort();
      session = null;
      started = false;
      stream.stop();
      show(symbol, interval);
    },
    toggles(t) {
      toggles = t;
      chart.toggles(t, session?.store.features ?? []);
    },
    skillHorizonChanged() {
      if (session !== null) renderer.skill(session);
    },
    tick() {
      if (session !== null) renderer.freshness(session);
    },
  };
}
