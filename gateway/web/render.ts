// The page's drawing: one render per animation frame however many records arrived in it (a replay
// pushes hundreds a second). The chart takes what changed in the store every frame; the text
// panels are redrawn at most every PANEL_MS. Writes the DOM contract's data attributes.
import { chooseForecaster, fanOf, latestOf, originClose, type Fan } from './forecast.js';
import { freshnessOf, type Freshness } from './freshness.js';
import type { Toggles } from './indicators.js';
import { pastBand, pastOutcomes, summarise, summaryText } from './outcomes.js';
import type { Session } from './session.js';
import { skillEntries, skillNotice } from './skill.js';
import { takeChanges } from './store.js';
import type { Prediction } from './types.js';
import type { ChartView } from './view/chart.js';
import { OUTCOME_ROWS, renderForecast, renderFreshness, renderHealth, renderOutcomes, renderSkill } from './view/panels.js';

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

/** Outcomes scored for the summary line (the table shows the newest OUTCOME_ROWS). */
const OUTCOME_WINDOW = 168;
/** Fastest redraw of the text panels (the chart redraws every frame). */
const PANEL_MS = 250;
/** Markers of past forecasts on the chart. */
const MARKERS = 24;

export interface RenderDeps {
  dom: PageDom;
  chart: ChartView;
  /** The session on view, or null before the first. */
  shown(): Session | null;
  now(): number;
  frame(fn: () => void): void;
  mark(name: string): void;
}

export interface Renderer {
  /** Draws the session on view in the next frame (once, however often asked). */
  request(): void;
  /** A new session: an empty chart (with `toggles`' panes), not ready, its panels drawn at the next render. */
  reset(toggles: Toggles | null): void;
  skill(s: Session): void;
  freshness(s: Session): void;
}

/** The forecast fan, its panel, and the past forecasts' band, markers and table. */
function drawForecast(dom: PageDom, chart: ChartView, s: Session): void {
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

/** The skill horizon select offers the horizons scored; returns the one chosen. */
function syncHorizons(select: HTMLSelectElement, s: Session): number {
  const seen = new Set<number>();
  for (const sc of s.store.scores.values()) seen.add(sc.horizonSteps);
  const list = [...seen].sort((a, b) => a - b);
  const have = [...select.options].map((o) => Number(o.value));
  if (list.length > 0 && list.join() !== have.join()) {
    const chosen = Number(select.value);
    select.replaceChildren(...list.map((h) => new Option(`${h} x ${s.store.interval}`, String(h))));
    select.value = String(list.includes(chosen) ? chosen : list[0]);
  }
  return Number(select.value) || 1;
}

function drawSkill(dom: PageDom, s: Session): void {
  const horizon = syncHorizons(dom.skillHorizon, s);
  const scores = [...s.store.scores.values()].filter((x) => x.horizonSteps === horizon);
  renderSkill(dom.skillList, dom.skillNotice, skillEntries(scores), skillNotice(scores, s.store.models?.champion != null));
}

function drawNotice(notice: HTMLElement, s: Session): void {
  const d = s.store.dropped;
  const parts = [...s.problems];
  if (d.malformed > 0) parts.push(`ignored ${d.malformed} malformed record${d.malformed === 1 ? '' : 's'}`);
  if (d.future > 0) parts.push(`ignored ${d.future} candle${d.future === 1 ? '' : 's'} dated in the future (check the producer's clock)`);
  const text = parts.join(' · ');
  if (notice.textContent !== text) notice.textContent = text;
}

function freshnessAt(s: Session, now: number): Freshness {
  return freshnessOf({ lastClose: s.store.candles.at(-1)?.closeTime ?? null, lastArrival: s.lastArrival, now, intervalMs: s.stepMs });
}

export function createRenderer(deps: RenderDeps): Renderer {
  const { dom, chart } = deps;
  let frameQueued = false;
  let firstChart = true;
  /** Panels waiting to be redrawn, and when they last were. */
  const pending = { forecast: false, skill: false, health: false };
  let panelsAt = -Infinity;
  let panelTimer: ReturnType<typeof setTimeout> | null = null;

  function request(): void {
    if (frameQueued) return;
    frameQueued = true;
    deps.frame(() => {
      frameQueued = false;
      render();
    });
  }

  function render(): void {
    const s = deps.shown();
    if (s === null) return;
    const ch = takeChanges(s.store);
    if (ch.candlesFrom !== null) drawCandles(s, ch.candlesFrom);
    if (ch.featuresFrom !== null) chart.features(s.store.features, ch.featuresFrom);
    pending.forecast ||= ch.candlesFrom !== null || ch.predictions || ch.scores;
    pending.skill ||= ch.scores || ch.models || ch.predictions;
    pending.health ||= ch.models;
    const readyNow = s.backfilled && s.subscribed && dom.body.dataset.ready !== 'true';
    drawPanels(s, readyNow);
    drawNotice(dom.notice, s);
    renderFreshness(dom.freshness, freshnessAt(s, deps.now()));
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
        request();
      }, wait);
      return;
    }
    panelsAt = deps.now();
    if (pending.forecast) drawForecast(dom, chart, s);
    if (pending.skill) drawSkill(dom, s);
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

  return {
    request,
    reset(toggles) {
      dom.body.dataset.ready = 'false';
      chart.clear();
      if (toggles !== null) chart.toggles(toggles, []);
      for (const k of ['candles', 'fans'] as const) dom.chart.dataset[k] = '0';
      dom.chart.dataset.lastCandle = '';
      panelsAt = -Infinity;
    },
    skill: (s) => drawSkill(dom, s),
    freshness: (s) => renderFreshness(dom.freshness, freshnessAt(s, deps.now())),
  };
}
