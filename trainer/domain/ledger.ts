// The final-window ledger: every run that computes figures on the hourly final evaluation window
// (2025-01-01 .. end of data) is one entry of a committed JSON file, so anyone can count how often
// the window was looked at. The rule it holds: one look per model design. A design is what a
// researcher could change to chase a better final figure without it being a new idea (model kind,
// architecture, feature set, target head, horizons); training knobs (epochs, seed, learning rate)
// are deliberately NOT part of it, so re-running with another seed is a second look, not a new design.
//
// Pure: parsing, the rule, the design id and the text of an appended ledger. Reading and writing
// the file is trainer/ledger.ts. Appending splices the new entry into the existing text instead of
// re-serialising the whole file, so the bytes of every earlier entry stay exactly as committed.
import { createHash } from 'node:crypto';
import { BitPredictError } from '../../core/errors.js';
import { FINAL_WINDOW_START } from '../../core/models/domain/dataset.js';
import type { ModelMetrics, TradingSummary } from './metrics.js';
import type { HorizonScores } from '../../core/forecast/evaluate.js';

export const LEDGER_FORMAT = 'bitpredict-final-window-ledger/1';

/** What makes two runs "the same model design" for the one-look rule. */
export interface ModelDesign {
  /** the model kind, e.g. lstm-attention or ema-drift */
  model: string;
  /** architecture hyperparameters (window length T, layer sizes, dropout...) */
  architecture: Record<string, number | string | boolean>;
  /** FEATURE_SET_VERSION of the features the model reads */
  featureSetVersion: string;
  /** the target and loss of the output head, e.g. point-return-mse+up-bce */
  head: string;
  /** forecast horizons in steps of the series' interval */
  horizons: number[];
}

export interface LedgerEntry {
  /** ISO time of the run (for entries recorded after the fact: the commit that published it) */
  date: string;
  /** git short sha of the code that ran, or "uncommitted" */
  commit: string;
  /** designId(design) */
  design: string;
  designDescription: string;
  /** the argv that was run */
  command: string[];
  kind: 'evaluate' | 'backtest';
  /** ISO times of the final-window data the run scored, [from, to) */
  range: { from: string; to: string };
  /** the headline figures the run printed */
  headline: Record<string, number>;
  /** present when the run was a further look at a design already in the ledger */
  forced?: { reason: string };
  /** free text, for example where an entry recorded after the fact took its figures from */
  note?: string;
}

export interface Ledger {
  format: typeof LEDGER_FORMAT;
  about: string;
  entries: LedgerEntry[];
}

/** What the rule allows for one run: the earlier looks at the design, and the reason if it was forced. */
export interface FinalWindowPermission {
  designId: string;
  previous: LedgerEntry[];
  forced?: { reason: string };
}

/** The point-forecast head every LSTM-attention model so far has had: a return (MSE) and P(up) (cross-entropy). */
export const POINT_HEAD = 'point-return-mse+up-bce';

/** JSON with object keys sorted at every depth: the same design always hashes the same. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) throw new BitPredictError('ERR_VALIDATION', `model design: ${String(v)} is not a finite number`);
  return JSON.stringify(v);
}

function checkDesign(d: ModelDesign): void {
  const bad = (why: string): never => {
    throw new BitPredictError('ERR_VALIDATION', `model design: ${why}`);
  };
  if (typeof d !== 'object' || d === null) bad('must be an object');
  for (const k of ['model', 'featureSetVersion', 'head'] as const) {
    if (typeof d[k] !== 'string' || d[k].trim() === '') bad(`${k} must be a non-empty string, got ${JSON.stringify(d[k])}`);
  }
  if (typeof d.architecture !== 'object' || d.architecture === null || Array.isArray(d.architecture)) bad('architecture must be an object');
  for (const [k, v] of Object.entries(d.architecture)) {
    if (!['number', 'string', 'boolean'].includes(typeof v) || (typeof v === 'number' && !Number.isFinite(v)))
      bad(`architecture.${k} must be a finite number, a string or a boolean, got ${JSON.stringify(v) ?? String(v)}`);
  }
  if (!Array.isArray(d.horizons) || d.horizons.length === 0 || !d.horizons.every((h) => Number.isSafeInteger(h) && h > 0))
    bad(`horizons must be a non-empty list of positive integers, got ${JSON.stringify(d.horizons)}`);
}

/** A stable id of a model design: sha256 of its canonical JSON, first 12 hex digits. Horizon order does not matter. */
export function designId(design: ModelDesign): string {
  checkDesign(design);
  const canonical = canonicalJson({ ...design, horizons: [...design.horizons].sort((a, b) => a - b) });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/** One line a person can read: "lstm-attention (T 48, units 32, ...), head ..., horizons 1, feature set fs-2". */
export function describeDesign(design: ModelDesign): string {
  checkDesign(design);
  const arch = Object.keys(design.architecture)
    .sort()
    .map((k) => `${k} ${String(design.architecture[k])}`)
    .join(', ');
  const horizons = [...design.horizons].sort((a, b) => a - b).join(', ');
  return `${design.model} (${arch}), head ${design.head}, horizons ${horizons}, feature set ${design.featureSetVersion}`;
}

/** The design of the point-forecast LSTM-attention model (the one evaluate and train build today). */
export function lstmPointDesign(o: { T: number; units: number; attentionUnits: number; dropout: number; featureSetVersion: string }): ModelDesign {
  return {
    model: 'lstm-attention',
    architecture: { T: o.T, units: o.units, attentionUnits: o.attentionUnits, dropout: o.dropout },
    featureSetVersion: o.featureSetVersion,
    head: POINT_HEAD,
    horizons: [1],
  };
}

/** The distributional head: a Student-t negative log-likelihood per horizon, residual shapes calibrated on validation. */
export const DISTRIBUTIONAL_HEAD = 'student-t-nll';

/**
 * The design of the distributional LSTM-attention model: its own id, so the final window is looked
 * at once for it; the point design's id (and the two entries of it) stay as they are. The Student-t
 * degrees of freedom and where the shapes are calibrated are part of it: changing either could
 * chase a better final figure.
 */
export function lstmDistributionalDesign(o: {
  T: number;
  units: number;
  attentionUnits: number;
  dropout: number;
  featureSetVersion: string;
  horizons: readonly number[];
  dof: number;
}): ModelDesign {
  return {
    model: 'lstm-attention',
    architecture: { T: o.T, units: o.units, attentionUnits: o.attentionUnits, dropout: o.dropout, dof: o.dof, shapes: 'calibrated-on-validation' },
    featureSetVersion: o.featureSetVersion,
    head: DISTRIBUTIONAL_HEAD,
    horizons: [...o.horizons],
  };
}

/** True when a run over [range.from, range.to) of this interval scores data in the final window (hourly only). */
export function reachesFinalWindow(interval: string, range: { from: number; to: number }): boolean {
  return interval === '1h' && range.to > FINAL_WINDOW_START;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function isIso(v: unknown): v is string {
  return typeof v === 'string' && ISO.test(v) && Number.isFinite(Date.parse(v));
}

function checkEntry(e: unknown, where: string): LedgerEntry {
  const bad = (field: string, why: string): never => {
    throw new BitPredictError('ERR_VALIDATION', `${where}: ${field} ${why}`, { details: { where } });
  };
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return bad('(entry)', 'must be a JSON object');
  const o = e as Record<string, unknown>;
  if (!isIso(o.date)) bad('date', `must be an ISO 8601 time, got ${JSON.stringify(o.date)}`);
  for (const k of ['commit', 'designDescription'] as const) {
    if (typeof o[k] !== 'string' || o[k].trim() === '') bad(k, `must be a non-empty string, got ${JSON.stringify(o[k])}`);
  }
  if (typeof o.design !== 'string' || !/^[0-9a-f]{12}$/.test(o.design)) bad('design', `must be a design id (12 hex digits), got ${JSON.stringify(o.design)}`);
  if (!Array.isArray(o.command) || o.command.length === 0 || !o.command.every((a) => typeof a === 'string'))
    bad('command', 'must be a non-empty list of strings (the argv)');
  if (o.kind !== 'evaluate' && o.kind !== 'backtest') bad('kind', `must be evaluate or backtest, got ${JSON.stringify(o.kind)}`);
  const r = o.range as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null || !isIso(r.from) || !isIso(r.to)) bad('range', 'must be {from, to} with ISO 8601 times');
  if (Date.parse((r as { from: string }).from) >= Date.parse((r as { to: string }).to)) bad('range', 'from must be before to');
  const h = o.headline as Record<string, unknown> | null;
  if (typeof h !== 'object' || h === null || Array.isArray(h)) bad('headline', 'must be an object of numbers');
  for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(`headline.${k}`, `must be a finite number, got ${JSON.stringify(v)}`);
  }
  if (o.forced !== undefined) {
    const f = o.forced as Record<string, unknown> | null;
    if (typeof f !== 'object' || f === null || typeof f.reason !== 'string' || f.reason.trim() === '')
      bad('forced', 'must be {reason} with a non-empty reason');
  }
  if (o.note !== undefined && typeof o.note !== 'string') bad('note', 'must be a string');
  return o as unknown as LedgerEntry;
}

/** The ledger in `text` (read from `source`, named in every message), checked entry by entry. */
export function parseLedger(text: string, source: string): Ledger {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BitPredictError('ERR_VALIDATION', `final-window ledger ${source} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
      details: { file: source },
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new BitPredictError('ERR_VALIDATION', `final-window ledger ${source}: must be a JSON object with "format" and "entries"`, {
      details: { file: source },
    });
  const o = raw as Record<string, unknown>;
  if (o.format !== LEDGER_FORMAT)
    throw new BitPredictError('ERR_VALIDATION', `final-window ledger ${source}: format must be "${LEDGER_FORMAT}", got ${JSON.stringify(o.format)}`, {
      details: { file: source },
    });
  if (!Array.isArray(o.entries))
    throw new BitPredictError('ERR_VALIDATION', `final-window ledger ${source}: entries must be a list`, { details: { file: source } });
  // appendedLedgerText splices before the closing bracket of `entries`: it must be the last key.
  if (Object.keys(o).at(-1) !== 'entries')
    throw new BitPredictError('ERR_VALIDATION', `final-window ledger ${source}: "entries" must be the last key of the object`, { details: { file: source } });
  const entries = o.entries.map((e, i) => checkEntry(e, `final-window ledger ${source}, entry ${i + 1}`));
  return { format: LEDGER_FORMAT, about: typeof o.about === 'string' ? o.about : '', entries };
}

// ---------------------------------------------------------------------------------------------
// The rule
// ---------------------------------------------------------------------------------------------

/**
 * May a run of this design look at the final window? Yes if the ledger has no entry of it; a
 * further look only with a non-empty reason, which the caller records in the new entry.
 */
export function checkFinalWindowRun(ledger: Ledger, id: string, forceReason?: string): FinalWindowPermission {
  const previous = ledger.entries.filter((e) => e.design === id);
  if (previous.length === 0) return { designId: id, previous };
  const reason = forceReason?.trim() ?? '';
  if (reason !== '') return { designId: id, previous, forced: { reason } };
  const first = previous[0] as LedgerEntry;
  const more = previous.length > 1 ? ` and ${previous.length - 1} more time(s), the last on ${(previous.at(-1) as LedgerEntry).date}` : '';
  throw new BitPredictError(
    'ERR_FINAL_WINDOW',
    `the final window was already evaluated for design ${id} on ${first.date} (${first.commit})${more}; a second look needs --force-reason "..." and is recorded` +
      (forceReason !== undefined ? ' (the reason given was empty)' : ''),
    { details: { design: id, looks: previous.length } },
  );
}

/** The entry checked like a parsed one, so the file never holds what the reader would refuse. */
export function checkNewEntry(entry: LedgerEntry): LedgerEntry {
  return checkEntry(JSON.parse(JSON.stringify(entry)) as unknown, 'new final-window ledger entry');
}

/**
 * The ledger text with `entry` appended: every byte before the closing bracket of `entries` is
 * kept (earlier entries stay exactly as committed), the new entry is indented like the file's.
 */
export function appendedLedgerText(text: string, entry: LedgerEntry, source: string): string {
  const before = parseLedger(text, source);
  checkNewEntry(entry);
  // The object ends `]` `}` (whitespace aside) because entries is its last key (parseLedger checked).
  const close = text.trimEnd().lastIndexOf(']');
  const head = text.slice(0, close).trimEnd();
  const body = JSON.stringify(entry, null, 2)
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  const next = `${head}${head.endsWith('[') ? '' : ','}\n${body}\n  ]\n}\n`;
  const after = parseLedger(next, source);
  if (after.entries.length !== before.entries.length + 1)
    throw new BitPredictError('ERR_VALIDATION', `final-window ledger ${source}: appending did not add one entry`);
  return next;
}

/** An empty ledger file's text. */
export function emptyLedgerText(about: string): string {
  return `${JSON.stringify({ format: LEDGER_FORMAT, about, entries: [] }, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Headlines
// ---------------------------------------------------------------------------------------------

/** The figures a run prints, flat: n, then per forecast rmse, mae, direction, DM vs persistence, long/flat return. */
export function headlineOf(n: number, models: readonly ModelMetrics[], buyAndHold: TradingSummary): Record<string, number> {
  const out: Record<string, number> = { n };
  const put = (k: string, v: number | null | undefined): void => {
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  };
  for (const m of models) {
    put(`${m.name}.rmse`, m.regression.rmse);
    put(`${m.name}.mae`, m.regression.mae);
    put(`${m.name}.directionAccuracy`, m.direction.accuracy);
    if (m.name !== 'persistence') {
      put(`${m.name}.dmStat`, m.dmVsPersistence.stat);
      put(`${m.name}.dmP`, m.dmVsPersistence.pValue);
    }
    put(`${m.name}.totalReturn`, m.trading.totalReturn);
  }
  put('buyAndHold.totalReturn', buyAndHold.totalReturn);
  return out;
}

/**
 * The distributional figures of a run, flat, per horizon h: n and missing, then per forecaster the
 * pinball loss, QLIKE, MSE of |r| vs scale, Brier score, 80 and 90 % coverage with Kupiec p, and
 * for the model the DM stat and p against persistence and against the best baseline (pinball and
 * QLIKE) and of its Brier score against climatology.
 */
export function distributionalHeadlineOf(model: string, scores: readonly HorizonScores[]): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (k: string, v: number | null | undefined): void => {
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  };
  for (const hs of scores) {
    const p = `h${hs.h}`;
    put(`${p}.n`, hs.n);
    put(`${p}.missing`, hs.missing);
    put(`${p}.climatology.brier`, hs.climatology.brier);
    for (const f of hs.forecasters) {
      const q = `${p}.${f.name}`;
      put(`${q}.pinball`, f.summary.pinball);
      put(`${q}.qlike`, f.summary.qlike);
      put(`${q}.mseAbs`, f.summary.mse);
      put(`${q}.brier`, f.summary.brier);
      for (const c of f.coverage.filter((x) => x.level >= 0.8)) {
        put(`${q}.cov${Math.round(c.level * 100)}`, c.coverage);
        put(`${q}.kupiecP${Math.round(c.level * 100)}`, c.kupiecP);
      }
      if (f.name !== model) continue;
      for (const loss of ['pinball', 'qlike'] as const) {
        put(`${q}.dm.${loss}.vsPersistence.stat`, f.dm.persistence?.[loss]?.stat);
        put(`${q}.dm.${loss}.vsPersistence.p`, f.dm.persistence?.[loss]?.pValue);
        const best = hs.bestBaseline[loss];
        put(`${q}.dm.${loss}.vsBest.stat`, best ? f.dm[best]?.[loss]?.stat : undefined);
        put(`${q}.dm.${loss}.vsBest.p`, best ? f.dm[best]?.[loss]?.pValue : undefined);
      }
      put(`${q}.dm.brier.vsClimatology.stat`, f.dmBrierVsClimatology?.stat);
      put(`${q}.dm.brier.vsClimatology.p`, f.dmBrierVsClimatology?.pValue);
    }
  }
  return out;
}
