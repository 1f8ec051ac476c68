import { describe, expect, it } from 'vitest';
import { fanChart, histogramChart, reliabilityChart } from './html.js';

const count = (s: string, sub: string): number => s.split(sub).length - 1;

describe('fanChart', () => {
  it('shades one polygon per run of known band edges (a missing point splits the band) and draws each known outcome', () => {
    const html = fanChart(
      'fan',
      'a',
      'b',
      [0.1, null, -0.2, 0.3],
      [{ name: '80 %', lo: [-1, -1, null, -1], hi: [1, 1, null, 1], color: '#f00', opacity: 0.2 }],
      String,
    );
    // the run 0..1 is a polygon; point 3 alone is not an area
    expect(count(html, '<polygon')).toBe(1);
    expect(count(html, '<circle')).toBe(3);
    expect(html).toContain('realised');
  });

  it('draws an outlined band as two dashed edges', () => {
    const html = fanChart('fan', 'a', 'b', [0, 0], [{ name: 'garch 80 %', lo: [-1, -1], hi: [1, 1], color: '#00f', opacity: 1, outline: true }], String);
    expect(count(html, 'stroke-dasharray="4 3"')).toBe(2);
    expect(html).not.toContain('<polygon');
  });

  it('says n/a with fewer than two points or nothing finite', () => {
    expect(fanChart('fan', 'a', 'b', [0.1], [], String)).toContain('n/a');
    expect(fanChart('fan', 'a', 'b', [null, Number.NaN], [], String)).toContain('n/a');
  });
});

describe('reliabilityChart', () => {
  it('plots each bin and the diagonal, and says n/a without points', () => {
    const html = reliabilityChart('rel', [
      {
        name: 'model',
        color: '#f00',
        points: [
          { p: 0.45, observed: 0.5 },
          { p: 0.55, observed: 0.52 },
        ],
      },
    ]);
    expect(count(html, '<circle')).toBe(2);
    expect(html).toContain('perfectly reliable');
    expect(reliabilityChart('rel', [{ name: 'model', color: '#f00', points: [] }])).toContain('n/a');
  });
});

describe('histogramChart', () => {
  it('draws one bar per bin and the uniform line; n/a when empty', () => {
    const html = histogramChart('pit', [1, 2, 3, 4]);
    expect(count(html, '<rect')).toBe(4);
    expect(html).toContain('stroke="#d62728" stroke-dasharray="4 3"');
    expect(histogramChart('pit', [0, 0])).toContain('n/a');
    expect(histogramChart('pit', [])).toContain('n/a');
  });
});
