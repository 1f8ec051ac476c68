// The panels beside the chart, drawn from the pure results (forecast rows, outcomes, skill
// sentences, model health, connection and freshness). Every row count and placeholder is fixed
// so that data arriving fills space already reserved instead of pushing the page around.
import { cell, el, setText } from './dom.js';
import { formatDate, formatPrice, formatShare, formatSpan, formatTime } from '../format.js';
import type { Fan } from '../forecast.js';
import type { Freshness } from '../freshness.js';
import type { Outcome } from '../outcomes.js';
import type { SkillEntry, SkillNotice } from '../skill.js';
import type { ConnState } from '../stream.js';
import type { ModelsInfo, Prediction } from '../types.js';

/** Rows the forecast table always has (the usual horizons: 1, 4, 24 steps). */
const FORECAST_ROWS = 3;
export const OUTCOME_ROWS = 24;
const DASH = '–';

function badge(isBaseline: boolean): HTMLElement {
  return el('span', { className: `kind ${isBaseline ? 'kind-baseline' : 'kind-model'}`, text: isBaseline ? 'baseline' : 'model' });
}

function forecasterCell(p: Prediction): HTMLTableCellElement {
  return el('td', { className: 'who' }, [
    el('span', { text: p.modelName }),
    el('span', { className: 'muted version', text: p.modelVersion, title: p.modelVersion }),
    el('span', {}, [badge(p.isBaseline)]),
  ]);
}

/** "42,903.62 – 43,093.06", breakable after the dash. */
function rangeText(lo: number, hi: number): string {
  return `${formatPrice(lo)} ${DASH} ${formatPrice(hi)}`;
}

function placeholderRow(columns: number): HTMLTableRowElement {
  return el(
    'tr',
    { className: 'placeholder' },
    Array.from({ length: columns }, () => cell(DASH)),
  );
}

export function renderForecast(rows: HTMLElement, made: HTMLElement, p: Prediction | null, fan: Fan | null, interval: string): void {
  const out: HTMLTableRowElement[] = [];
  if (p !== null && fan !== null) {
    setText(made, `made at ${formatTime(p.eventTime)} from close ${formatPrice(fan.origin.price)}`);
    for (const h of fan.horizons) {
      const band = h.bands['80'];
      const tr = el('tr', { data: { horizon: String(h.horizonSteps) } }, [
        el('th', { text: `${h.horizonSteps} x ${interval}`, title: `to ${formatTime(h.targetTime)}` }),
        cell(formatShare(h.probUp, 1), `num ${h.probUp > 0.5 ? 'up' : h.probUp < 0.5 ? 'down' : ''}`),
        cell(formatPrice(h.median), 'num'),
        cell(band === undefined ? DASH : rangeText(band.lo, band.hi), 'num'),
        forecasterCell(p),
      ]);
      tr.cells[0]?.setAttribute('scope', 'row');
      out.push(tr);
    }
  } else {
    setText(made, 'no forecast yet');
  }
  while (out.length < FORECAST_ROWS) out.push(placeholderRow(5));
  rows.replaceChildren(...out);
}

function outcomeRow(o: Outcome): HTMLTableRowElement {
  const direction = o.right === null ? 'none' : o.right ? 'right' : 'wrong';
  return el('tr', { data: { outcome: String(o.eventTime), inside: String(o.inside), direction } }, [
    cell(formatTime(o.eventTime)),
    cell(formatPrice(o.origin), 'num'),
    cell(rangeText(o.lo80, o.hi80), 'num'),
    cell(formatPrice(o.realised), 'num'),
    cell(o.inside ? 'inside' : 'outside', o.inside ? 'inside' : 'outside'),
    cell(o.right === null ? 'no call' : `${o.called} ${o.right ? '✓ right' : '✗ wrong'}`, direction),
  ]);
}

export function renderOutcomes(summary: HTMLElement, rows: HTMLElement, outcomes: readonly Outcome[], summaryText: string): void {
  setText(summary, summaryText);
  const out = outcomes.slice(0, OUTCOME_ROWS).map(outcomeRow);
  rows.replaceChildren(...out);
}

export function renderSkill(list: HTMLElement, notice: HTMLElement, entries: readonly SkillEntry[], n: SkillNotice | null): void {
  list.replaceChildren(
    ...entries.map((e) => el('li', { data: { window: e.window } }, [el('strong', { text: `${e.window}: ` }), document.createTextNode(e.sentence)])),
  );
  notice.hidden = n === null;
  notice.dataset.kind = n?.kind ?? '';
  setText(notice, n?.text ?? '');
}

function field(name: string, value: string): HTMLElement {
  return el('div', {}, [el('dt', { text: name }), el('dd', { text: value })]);
}

/** When a model expires, in words relative to `now`. */
export function expiryWords(expiresAt: number | null, now: number): string {
  if (expiresAt === null) return 'never';
  const span = formatSpan(expiresAt - now);
  return expiresAt > now ? `${formatTime(expiresAt)} (in ${span})` : `${formatTime(expiresAt)} (expired ${span} ago: the predictor refuses it)`;
}

export function renderHealth(dl: HTMLElement, models: ModelsInfo | null, now: number): void {
  const c = models?.champion ?? null;
  if (models === null || c === null) {
    dl.replaceChildren(
      field('Champion', 'no champion: baselines serve'),
      field('Trained to', DASH),
      field('Expires', DASH),
      field('Last retrain', DASH),
      field('Backend', DASH),
    );
    return;
  }
  dl.replaceChildren(
    field('Champion', `${models.name} ${c.version}`),
    field('Trained to', `${formatDate(c.trainedTo)} (from ${formatDate(c.trainedFrom)})`),
    field('Expires', expiryWords(c.expiresAt, now)),
    field('Last retrain', formatTime(c.createdAt)),
    field('Backend', c.backend),
  );
}

export function renderConn(e: HTMLElement, state: ConnState, words: string): void {
  e.dataset.state = state;
  setText(e, words);
}

export function renderFreshness(e: HTMLElement, f: Freshness): void {
  e.dataset.state = f.state;
  setText(e, f.text);
}
