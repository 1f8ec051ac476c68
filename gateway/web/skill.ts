// The skill panel in plain words, from the live scores (docs/trainer.md#live-skill): how often the
// model's 80 % interval held over each rolling window, how it compares with persistence and the
// best baseline, and an honest notice when it has no edge, too few outcomes, or no model serves.
import { formatShare } from './format.js';
import type { Score } from './types.js';

export const WINDOWS = [
  { id: '24h', ms: 86_400_000, words: 'the last 24 hours' },
  { id: '7d', ms: 604_800_000, words: 'the last 7 days' },
  { id: '30d', ms: 2_592_000_000, words: 'the last 30 days' },
] as const;
export type WindowId = (typeof WINDOWS)[number]['id'];

/** Fewer realised outcomes than this in a window say nothing about an edge. */
export const MIN_SAMPLES = 24;

/** Who the sentences are about: the model, or (when no model is scored) the best baseline. */
export interface Subject {
  modelName: string;
  isBaseline: boolean;
}

/** The scores of one horizon, by window id, of `modelName`. */
function byWindow(scores: readonly Score[], modelName: string): Map<WindowId, Score> {
  const out = new Map<WindowId, Score>();
  for (const w of WINDOWS) {
    const s = scores.find((x) => x.modelName === modelName && x.windowMs === w.ms);
    if (s !== undefined) out.set(w.id, s);
  }
  return out;
}

/**
 * The model scored at this horizon (the newest, when a retrain changed its name); else the
 * baseline with the best 7-day (then 30-day, 24-hour) skill against persistence; null without scores.
 */
export function skillSubject(scores: readonly Score[]): Subject | null {
  const models = scores.filter((s) => !s.isBaseline).sort((a, b) => b.eventTime - a.eventTime);
  if (models[0] !== undefined) return { modelName: models[0].modelName, isBaseline: false };
  for (const w of [WINDOWS[1], WINDOWS[2], WINDOWS[0]]) {
    const ranked = scores
      .filter((s) => s.windowMs === w.ms && s.samples > 0 && s.skillVsPersistence !== null)
      .sort((a, b) => b.skillVsPersistence! - a.skillVsPersistence! || a.modelName.localeCompare(b.modelName));
    if (ranked[0] !== undefined) return { modelName: ranked[0].modelName, isBaseline: true };
  }
  const any = [...scores].sort((a, b) => a.modelName.localeCompare(b.modelName))[0];
  return any === undefined ? null : { modelName: any.modelName, isBaseline: true };
}

/** A relative skill as words: "beats persistence by 6 %", "trails garch by 0.4 %", "matches ...". */
export function versus(skill: number | null, whom: string): string {
  if (skill === null) return `has no comparison with ${whom} yet`;
  const a = Math.abs(skill);
  if (a < 0.0005) return `matches ${whom}`;
  const size = a >= 0.01 ? formatShare(a) : formatShare(a, 1);
  return skill > 0 ? `beats ${whom} by ${size}` : `trails ${whom} by ${size}`;
}

function coverageAt(s: Score, level: number): number | undefined {
  return s.coverage.find((c) => Math.abs(c.level - level) < 1e-9)?.coverage;
}

/** One window's sentence about `subject`. */
export function skillSentence(s: Score | undefined, subject: Subject, windowWords: string): string {
  const who = subject.isBaseline ? `The baseline ${subject.modelName}` : 'The model';
  if (s === undefined || s.samples === 0) return `${who} has no realised outcome in ${windowWords} yet.`;
  const cov = coverageAt(s, 0.8);
  const outcomes = `${s.samples} outcome${s.samples === 1 ? '' : 's'}`;
  const head =
    cov === undefined
      ? `${who} was scored on ${outcomes} of ${windowWords}`
      : `${who}'s 80 % interval covered ${formatShare(cov)} of ${windowWords} (${outcomes})`;
  const parts = [versus(s.skillVsPersistence, 'persistence')];
  if (!subject.isBaseline || s.bestBaseline !== null) {
    const best = s.bestBaseline === null ? 'the best baseline' : `the best baseline (${s.bestBaseline})`;
    parts.push(versus(s.skillVsBestBaseline, best));
  }
  return `${head}; it ${parts.join(' and ')} on pinball loss.`;
}

export interface SkillEntry {
  window: WindowId;
  sentence: string;
  score: Score | null;
}

/** One entry per window (24 h, 7 d, 30 d), always three, so the panel keeps its size. */
export function skillEntries(scores: readonly Score[]): SkillEntry[] {
  const subject = skillSubject(scores);
  if (subject === null) return WINDOWS.map((w) => ({ window: w.id, sentence: `No live score for ${w.words} yet.`, score: null }));
  const mine = byWindow(scores, subject.modelName);
  return WINDOWS.map((w) => ({ window: w.id, sentence: skillSentence(mine.get(w.id), subject, w.words), score: mine.get(w.id) ?? null }));
}

export type NoticeKind = 'no-model' | 'too-few' | 'no-edge';

export interface SkillNotice {
  kind: NoticeKind;
  text: string;
}

/**
 * The notice the panel shows, or null when the model has an edge: it beats the best baseline (or,
 * without one, persistence) in the 7-day window, or the 30-day or 24-hour one when the 7-day
 * window has fewer than MIN_SAMPLES outcomes.
 */
export function skillNotice(scores: readonly Score[], hasChampion: boolean): SkillNotice | null {
  const subject = skillSubject(scores);
  if (subject === null || subject.isBaseline) {
    return hasChampion
      ? { kind: 'too-few', text: 'The model has no live score yet: whether it has an edge is not known. Treat its forecasts with care.' }
      : { kind: 'no-model', text: 'No model serves: the forecasts shown are baselines, simple rules with no learned edge.' };
  }
  const mine = byWindow(scores, subject.modelName);
  const verdict = [WINDOWS[1], WINDOWS[2], WINDOWS[0]].map((w) => ({ w, s: mine.get(w.id) })).find((x) => x.s !== undefined && x.s.samples >= MIN_SAMPLES);
  if (verdict === undefined) {
    const most = Math.max(0, ...[...mine.values()].map((s) => s.samples));
    return { kind: 'too-few', text: `Too few realised outcomes (${most}, fewer than ${MIN_SAMPLES}) to tell whether the model has an edge.` };
  }
  const s = verdict.s!;
  const best = s.skillVsBestBaseline !== null;
  const skill = s.skillVsBestBaseline ?? s.skillVsPersistence;
  const whom = best ? (s.bestBaseline ?? 'the best baseline') : 'persistence';
  if (skill === null) return { kind: 'too-few', text: `No baseline was scored on the same outcomes in ${verdict.w.words}: the model's edge is not known.` };
  if (skill > 0) return null;
  return {
    kind: 'no-edge',
    text: `No edge: over ${verdict.w.words} the model ${versus(skill, whom)} on pinball loss. Its forecasts are no better than ${whom}'s.`,
  };
}
