import { describe, expect, it } from 'vitest';
import { skillEntries, skillNotice, skillSubject, versus } from './skill.js';
import { score, WINDOW } from './testing.js';

const baselines = (windowMs: number) => [
  score('persistence', windowMs, { skillVsPersistence: null, skillVsBestBaseline: -0.01, bestBaseline: 'garch' }),
  score('garch', windowMs, { skillVsPersistence: 0.04, skillVsBestBaseline: 0.01, bestBaseline: 'ewma' }),
  score('ewma', windowMs, { skillVsPersistence: 0.02, skillVsBestBaseline: -0.01, bestBaseline: 'garch' }),
];

describe('skill sentences', () => {
  it("say the model's coverage and its skill against persistence and the best baseline in plain words", () => {
    const entries = skillEntries([score('lstm', WINDOW['7d'], { samples: 166 }), ...baselines(WINDOW['7d'])]);
    expect(entries.map((e) => e.window)).toEqual(['24h', '7d', '30d']);
    expect(entries[1]!.sentence).toBe(
      "The model's 80 % interval covered 78 % of the last 7 days (166 outcomes); it beats persistence by 6 % and beats the best baseline (garch) by 2 % on pinball loss.",
    );
    expect(entries[0]!.sentence).toBe('The model has no realised outcome in the last 24 hours yet.');
  });

  it('say "trails" when the model is worse, with a decimal for small differences', () => {
    const s = skillEntries([score('lstm', WINDOW['30d'], { skillVsPersistence: -0.031, skillVsBestBaseline: -0.004 })])[2]!.sentence;
    expect(s).toContain('it trails persistence by 3 % and trails the best baseline (garch) by 0.4 % on pinball loss.');
  });

  it('name the missing comparison instead of inventing a number', () => {
    const s = skillEntries([score('lstm', WINDOW['24h'], { skillVsPersistence: null, skillVsBestBaseline: null, bestBaseline: null, coverage: [] })])[0]!;
    expect(s.sentence).toBe(
      'The model was scored on 160 outcomes of the last 24 hours; it has no comparison with persistence yet and has no comparison with the best baseline yet on pinball loss.',
    );
  });

  it('describe the best baseline when no model is scored', () => {
    expect(skillSubject(baselines(WINDOW['7d']))).toEqual({ modelName: 'garch', isBaseline: true });
    const s = skillEntries(baselines(WINDOW['7d']))[1]!.sentence;
    expect(s).toMatch(
      /^The baseline garch's 80 % interval covered 78 % of the last 7 days \(160 outcomes\); it beats persistence by 4 % and beats the best baseline \(ewma\) by 1 %/,
    );
  });

  it('keep three entries without any score', () => {
    expect(skillEntries([]).map((e) => [e.window, e.score])).toEqual([
      ['24h', null],
      ['7d', null],
      ['30d', null],
    ]);
  });

  it('versus words', () => {
    expect(versus(0.06, 'persistence')).toBe('beats persistence by 6 %');
    expect(versus(-0.0004, 'x')).toBe('matches x');
    expect(versus(0.0049, 'x')).toBe('beats x by 0.5 %');
  });
});

describe('the no-edge notice', () => {
  it('is absent when the model beats the best baseline over 7 days', () => {
    expect(skillNotice([score('lstm', WINDOW['7d']), ...baselines(WINDOW['7d'])], true)).toBeNull();
  });

  it('says "no edge" when the model does not beat the best baseline', () => {
    const n = skillNotice([score('lstm', WINDOW['7d'], { skillVsBestBaseline: -0.012, bestBaseline: 'har-rv' })], true);
    expect(n?.kind).toBe('no-edge');
    expect(n?.text).toBe("No edge: over the last 7 days the model trails har-rv by 1 % on pinball loss. Its forecasts are no better than har-rv's.");
  });

  it('says "no edge" for a tie too', () => {
    expect(skillNotice([score('lstm', WINDOW['7d'], { skillVsBestBaseline: 0 })], true)?.kind).toBe('no-edge');
  });

  it('judges on persistence when there is no other baseline', () => {
    const only = (p: number) => [score('lstm', WINDOW['7d'], { skillVsBestBaseline: null, bestBaseline: null, skillVsPersistence: p })];
    expect(skillNotice(only(0.03), true)).toBeNull();
    expect(skillNotice(only(-0.03), true)?.text).toContain('trails persistence by 3 %');
  });

  it('falls back to 30 days, then 24 hours, when 7 days hold too few outcomes', () => {
    const scores = [
      score('lstm', WINDOW['7d'], { samples: 10, skillVsBestBaseline: 0.5 }),
      score('lstm', WINDOW['30d'], { samples: 400, skillVsBestBaseline: -0.02 }),
    ];
    expect(skillNotice(scores, true)?.text).toMatch(/^No edge: over the last 30 days/);
  });

  it('says there are too few outcomes rather than claiming an edge on a handful', () => {
    const n = skillNotice([score('lstm', WINDOW['24h'], { samples: 12, skillVsBestBaseline: 0.4 })], true);
    expect(n).toEqual({ kind: 'too-few', text: 'Too few realised outcomes (12, fewer than 24) to tell whether the model has an edge.' });
  });

  it('says no model serves when only baselines are scored and there is no champion', () => {
    expect(skillNotice(baselines(WINDOW['7d']), false)?.kind).toBe('no-model');
    expect(skillNotice([], false)?.kind).toBe('no-model');
  });

  it('says the edge is unknown when a champion exists but has no score yet', () => {
    expect(skillNotice(baselines(WINDOW['7d']), true)?.kind).toBe('too-few');
  });
});
