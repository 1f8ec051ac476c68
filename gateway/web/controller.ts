// The page's controller: one session per symbol and interval (its store, its REST requests),
// history from REST, live records from the stream, and one render per animation frame however
// many records arrived in it (a replay pushes hundreds a second).
import { AuthError, NetworkError, type Api, type Page } from './api.js';
import { chooseForecaster, fanOf, intervalMs, latestOf, originClose, type Fan } from './forecast.js';
import { freshnessOf } from './freshness.js';
import type { Toggles } from './indicators.js';
import { pastBand, pastOutcomes, summarise, summaryText } from './outcomes.js';
import { parseCandle, parseFeature, parsePrediction, parseScore } from './parse.js';
import type { ChannelKind } from './protocol.js';
import { skillEntries, skillNotice } from './skill.js';
import { addCandles, addFeatures, addPredictions, addScores, createStore, takeChanges, type SeriesStore } from './store.js';
import type { ConnState, ProbeVerdict, Stream, StreamHandlers } from './stream.js';
import type { Prediction } from './types.js';
import type { ChartView } from './view/chart.js';
import { OUTCOME_ROWS, renderConn, renderForecast, renderFreshness, renderHealth, renderOutcomes, renderSkill } from './view/panels.js';

/** The elements the controller writes to (main.ts finds them). */
export interface PageDom {
  body: HTMLElement;
  chart: HTMLElement;
  conn: HTMLElement;
  freshness: HTMLElement;
  notice: HTMLElement;
  forecastRows: HTMLElement;
  forecastMade: HTMLElement;
  outcomesSummary: HTMLElement;
  outcomeRows: HTMLElement;
  skillList: HTMLElement;
  skillNotice: HTMLElement;
  skillHorizon: HTMLSelectElement;
  health: HTMLElement;
}

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

/** Outcomes scored for the summary line (the table shows the newest OUTCOME_ROWS). */
const OUTCOME_WINDOW = 168;
/** Fastest redraw of the text panels (the chart redraws every frame). */
const PANEL_MS = 250;
/** Markers of past forecasts on the chart. */
const MARKERS = 24;
const REFILL_PAGES = 10;

interface Session {
  store: SeriesStore;
  stepMs: number;
  abort: AbortController;
  api: Api;
  backfilled: boolean;
  /** The REST candle history has been merged: only then is a drawn chart the "first chart" (a WebSocket snapshot of one candle may come first). */
  candlesLoaded: boolean;
  subscribed: boolean;
  /** Wall time of the last candle of this series that arrived over the WebSocket. */
  lastArrival: number | null;
  problems: string[];
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
  let frameQueued = false;
  let firstChart = true;
  let started = false;

  const stream = deps.stream({
    onRecord: (kind, data) => onRecord(kind, data),
    onSnapshot: (kind, items) => {
      for (const x of items) onRecord(kind, x, false);
    },
    onGap: (kind) => refill(kind),
    onSubscribed: () => {
      if (session !== null) session.subscribed = true;
      requestRender();
    },
    onState: (state, words) => onConnState(state, words),
    onProblem: (words) => problem(words),
    probe: () => probe(),
  });

  function current(): Session {
    if (session === null) throw new Error('no series shown yet');
    return session;
  }

  function requestRender(): void {
    if (frameQueued) return;
    frameQueued = true;
    deps.frame(() => {
      frameQueued = false;
      render();
    });
  }

  function problem(words: string): void {
    const s = session;
    if (s === null) return;
    s.problems = [...s.problems.slice(-2), words];
    requestRender();
  }

  function onRecord(kind: ChannelKind, data: unknown, live = true): void {
    const s = session;
    if (s === null) return;
    if (kind === 'candles') {
      const c = parseCandle(data);
      addCandles(s.store, [c], deps.now() + s.stepMs);
      if (live && c !== null && c.symbol === s.store.symbol && c.interval === s.store.interval) s.lastArrival = deps.now();
    } else if (kind === 'features') addFeatures(s.store, [parseFeature(data)]);
    else if (kind === 'predictions') addPredictions(s.store, [parsePrediction(data)]);
    else addScores(s.store, [parseScore(data)]);
    requestRender();
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

  /** Records of one REST page into the store; a failed request is reported, not thrown. */
  async function load<T>(s: Session, what: string, request: Promise<Page<T>>, add: (items: T[]) => void): Promise<T[] | null> {
    try {
      const page = await request;
      if (s !== session) return null;
      if (page.rejected > 0) s.store.dropped.malformed += page.rejected;
      add(page.items);
      requestRender();
      return page.items;
    } catch (err) {
      if (s !== session || s.abort.signal.aborted) return null;
      if (err instanceof AuthError) throw err;
      problem(`${what} unavailable: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }

  async function backfill(s: Session): Promise<void> {
    const { symbol, interval } = s.store;
    const models = await s.api.models();
    if (s !== session) return;
    s.store.models = models;
    s.store.changes.models = true;
    if (!started) {
      started = true;
      stream.start(symbol);
    }
    // Candles first, alone: the gateway answers one request at a time on its CPU, and the chart
    // can be drawn from them while the (heavier) vectors and predictions are still on the way.
    await load(s, 'candle history', s.api.candles(symbol, interval), (items) => addCandles(s.store, items, deps.now() + s.stepMs));
    s.candlesLoaded = true;
    await Promise.all([
      load(s, 'feature history', s.api.features(symbol, interval), (items) => addFeatures(s.store, items)),
      load(s, 'prediction history', s.api.predictions(symbol), (items) => addPredictions(s.store, items)),
    ]);
    s.backfilled = true;
    requestRender();
  }

  function start(s: Session): void {
    backfill(s).catch((err: unknown) => {
      if (s !== session) return;
      if (err instanceof AuthError) {
        renderConn(dom.conn, 'unauthorized', 'API key needed');
        deps.askForKey('needed');
      } else if (err instanceof NetworkError) {
        renderConn(dom.conn, 'offline', 'gateway unreachable; reload to retry');
      } else problem(`history unavailable: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** Pages of `fetch` from `from` on, until a page is not full (or REFILL_PAGES pages). */
  async function refillPages<T>(
    first: number | undefined,
    next: (from: number | undefined) => Promise<Page<T>>,
    add: (items: T[]) => void,
    at: (x: T) => number,
  ): Promise<void> {
    let from = first;
    for (let i = 0; i < REFILL_PAGES; i++) {
      const page = await next(from);
      add(page.items);
      const last = page.items.at(-1);
      if (last === undefined || page.items.length < 2 || at(last) === from) return;
      from = at(last);
    }
  }

  async function refill(kind: ChannelKind): Promise<boolean> {
    const s = session;
    if (s === null) return true;
    const { symbol, interval } = s.store;
    try {
      if (kind === 'candles') {
        const from = s.store.candles.at(-1)?.openTime;
        await refillPages(
          from,
          (f) => s.api.candles(symbol, interval, f === undefined ? {} : { from: f }),
          (x) => addCandles(s.store, x, deps.now() + s.stepMs),
          (c) => c.openTime,
        );
      } else if (kind === 'features') {
        const from = s.store.features.at(-1)?.eventTime;
        await refillPages(
          from,
          (f) => s.api.features(symbol, interval, f === undefined ? {} : { from: f }),
          (x) => addFeatures(s.store, x),
          (x) => x.eventTime,
        );
      } else if (kind === 'predictions') {
        let from: number | undefined;
        for (const p of s.store.predictions.values()) if (from === undefined || p.eventTime > from) from = p.eventTime;
        await refillPages(
          from,
          (f) => s.api.predictions(symbol, f === undefined ? {} : { from: f }),
          (x) => addPredictions(s.store, x),
          (p) => p.eventTime,
        );
      }
      // Scores need no refill: the snapshot that follows a gap holds the latest of each.
      requestRender();
      return true;
    } catch (err) {
      problem(`could not refill ${kind} after a gap: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  /** Panels waiting to be redrawn, and when they last were. */
  const pending = { forecast: false, skill: false, health: false };
  let panelsAt = -Infinity;
  let panelTimer: ReturnType<typeof setTimeout> | null = null;

  function render(): void {
    const s = session;
    if (s === null) return;
    const ch = takeChanges(s.store);
    if (ch.candlesFrom !== null) drawCandles(s, ch.candlesFrom);
    if (ch.featuresFrom !== null) chart.features(s.store.features, ch.featuresFrom);
    pending.forecast ||= ch.candlesFrom !== null || ch.predictions || ch.scores;
    pending.skill ||= ch.scores || ch.models || ch.predictions;
    pending.health ||= ch.models;
    const readyNow = s.backfilled && s.subscribed && dom.body.dataset.ready !== 'true';
    drawPanels(s, readyNow);
    drawNotice(s);
    renderFreshness(dom.freshness, freshnessNow(s));
    if (readyNow) dom.body.dataset.ready = 'true';
  }

  /**
   * The panels, at most every PANEL_MS: under a fast replay (hundreds of records a second) the
   * chart takes every frame and the text panels a few a second, which no reader can outpace.
   */
  function drawPanels(s: Session, force: boolean): void {
    const wait = panelsAt + PANEL_MS - deps.now();
    if (!force && wait > 0) {
      panelTimer ??= setTimeout(() => {
        panelTimer = null;
        requestRender();
      }, wait);
      return;
    }
    panelsAt = deps.now();
    if (pending.forecast) drawForecast(s);
    if (pending.skill) drawSkill(s);
    if (pending.health) renderHealth(dom.health, s.store.models, deps.now());
    pending.forecast = pending.skill = pending.health = false;
  }

  function drawCandles(s: Session, from: number): void {
    chart.candles(s.store.candles, from);
    dom.chart.dataset.candles = String(s.store.candles.length);
    dom.chart.dataset.lastCandle = String(s.store.candles.at(-1)?.openTime ?? '');
    if (firstChart && s.candlesLoaded && s.store.candles.length > 0) {
      firstChart = false;
      deps.mark('bitpredict:first-chart');
    }
  }

  function drawForecast(s: Session): void {
    const preds = s.store.predictions;
    const name = chooseForecaster(preds.values(), s.store.scores.values());
    const latest: Prediction | null = name === null ? null : latestOf(preds.values(), name);
    const close = latest === null ? null : originClose(latest, s.store.candles);
    const fan: Fan | null = latest === null || close === null ? null : fanOf(latest, close, s.stepMs);
    chart.fan(fan, s.stepMs);
    dom.chart.dataset.fans = String(fan?.horizons.length ?? 0);
    renderForecast(dom.forecastRows, dom.forecastMade, latest, fan, s.store.interval);
    const h = latest?.horizons[0]?.horizonSteps ?? 1;
    const outcomes = name === null ? [] : pastOutcomes(preds.values(), s.store.candles, name, h, s.stepMs, OUTCOME_WINDOW);
    chart.past(name === null ? [] : pastBand(preds.values(), s.store.candles, name, h, s.stepMs), outcomes.slice(0, MARKERS));
    const words = name === null ? 'No forecast yet.' : summaryText(summarise(outcomes), name, h, s.store.interval);
    renderOutcomes(dom.outcomesSummary, dom.outcomeRows, outcomes.slice(0, OUTCOME_ROWS), words);
  }

  function syncHorizons(s: Session): number {
    const seen = new Set<number>();
    for (const sc of s.store.scores.values()) seen.add(sc.horizonSteps);
    const list = [...seen].sort((a, b) => a - b);
    const select = dom.skillHorizon;
    const have = [...select.options].map((o) => Number(o.value));
    if (list.length > 0 && list.join() !== have.join()) {
      const chosen = Number(select.value);
      select.replaceChildren(...list.map((h) => new Option(`${h} x ${s.store.interval}`, String(h))));
      select.value = String(list.includes(chosen) ? chosen : list[0]);
    }
    return Number(select.value) || 1;
  }

  function drawSkill(s: Session): void {
    const horizon = syncHorizons(s);
    const scores = [...s.store.scores.values()].filter((x) => x.horizonSteps === horizon);
    renderSkill(dom.skillList, dom.skillNotice, skillEntries(scores), skillNotice(scores, s.store.models?.champion != null));
  }

  function drawNotice(s: Session): void {
    const d = s.store.dropped;
    const parts = [...s.problems];
    if (d.malformed > 0) parts.push(`ignored ${d.malformed} malformed record${d.malformed === 1 ? '' : 's'}`);
    if (d.future > 0) parts.push(`ignored ${d.future} candle${d.future === 1 ? '' : 's'} dated in the future (check the producer's clock)`);
    const text = parts.join(' · ');
    if (dom.notice.textContent !== text) dom.notice.textContent = text;
  }

  function freshnessNow(s: Session) {
    return freshnessOf({ lastClose: s.store.candles.at(-1)?.closeTime ?? null, lastArrival: s.lastArrival, now: deps.now(), intervalMs: s.stepMs });
  }

  function newSession(symbol: string, interval: string): Session {
    const abort = new AbortController();
    return {
      store: createStore(symbol, interval),
      stepMs: intervalMs(interval) ?? 3_600_000,
      abort,
      api: deps.api(abort.signal),
      backfilled: false,
      candlesLoaded: false,
      subscribed: false,
      lastArrival: null,
      problems: [],
    };
  }

  function show(symbol: string, interval: string): void {
    const old = session;
    old?.abort.abort();
    const s = newSession(symbol, interval);
    // Same symbol: the channels (which carry every interval) stay subscribed.
    s.subscribed = old !== null && old.store.symbol === symbol && old.subscribed;
    session = s;
    dom.body.dataset.ready = 'false';
    chart.clear();
    if (toggles !== null) chart.toggles(toggles, []);
    for (const k of ['candles', 'fans'] as const) dom.chart.dataset[k] = '0';
    dom.chart.dataset.lastCandle = '';
    s.store.changes = { candlesFrom: null, featuresFrom: null, predictions: true, scores: true, models: true };
    panelsAt = -Infinity;
    if (started && old !== null && old.store.symbol !== symbol) stream.switchSymbol(symbol);
    requestRender();
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
      if (session !== null) drawSkill(session);
    },
    tick() {
      if (session !== null) renderFreshness(dom.freshness, freshnessNow(session));
    },
  };
}
