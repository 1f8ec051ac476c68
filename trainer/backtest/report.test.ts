// The backtest's HTML report: self-contained, every string escaped, and every part the issue asks
// for present (equity vs buy-and-hold, predictions vs realised, rolling directional accuracy,
// drawdowns, the metrics table with the baselines, gaps, data range, model version, configuration).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import type { Candle } from '../../schemas/types.js';
import { loadCandlesFromFile } from '../../core/data/load.js';
import type { BacktestEvents } from './types.js';
import { runBacktest, type BacktestResult } from './engine.js';
import { renderBacktestReport } from './report.js';
import { syntheticDataDir } from '../../test/helpers/synthetic-data.js';

const MERGED = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const H = 3_600_000;
const FROM = Date.UTC(2024, 4, 6);
const TO = Date.UTC(2024, 4, 13);
const EVIL = '<script>alert("x")</script>';

let result: BacktestResult;

// The page is what is tested, not the figures: the candles are a synthetic random walk in the
// layout of the real merged file (test/helpers/synthetic-data.ts), so this runs on a clone without
// ../shared/data too.
let data: string;
afterAll(() => rmSync(data, { recursive: true, force: true }));

beforeAll(async () => {
  const warmupFrom = FROM - 200 * H;
  data = syntheticDataDir(warmupFrom, TO);
  const all = await loadCandlesFromFile(data, MERGED, 'BTCUSDT', '1h', { from: warmupFrom, to: TO, now: () => Date.UTC(2026, 0, 1) });
  const holeFrom = FROM + 30 * H;
  const candles: Candle[] = all.filter((c) => c.openTime < holeFrom || c.openTime >= holeFrom + 3 * H);
  const events: BacktestEvents = {
    source: 'files',
    range: { symbol: 'BTCUSDT', interval: '1h', from: FROM, to: TO },
    warmupFrom,
    candles,
    texts: [],
    gaps: [{ from: holeFrom, to: holeFrom + 3 * H, missingBars: 3 }],
    provenance: [`files: ${MERGED}`, EVIL],
  };
  result = await runBacktest({
    events,
    model: { kind: 'baseline' },
    sentimentWindowMs: 4 * H,
    trading: { feeBps: 10, slippageBps: 5, mode: 'long-flat' },
    codeVersion: EVIL,
  });
});

describe('renderBacktestReport', () => {
  it('is one self-contained page: no scripts, no external assets', () => {
    const html = renderBacktestReport(result);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link|<img|@import|url\(|src=/i);
    expect(html.match(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/g)).toBeNull();
  });

  it('escapes every string from the result', () => {
    const html = renderBacktestReport(result);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).not.toContain(EVIL);
    const named: BacktestResult = { ...result, model: { ...result.model, name: `a<b>"&'` }, range: { ...result.range, symbol: '<i>BTC</i>' } };
    const page = renderBacktestReport(named);
    expect(page).not.toMatch(/a<b>|<i>BTC/);
    expect(page).toContain('a&lt;b&gt;&quot;&amp;&#39;');
  });

  it('has the charts, the metrics table with the baselines, the gaps, the data range, the model and the configuration', () => {
    const html = renderBacktestReport(result);
    for (const title of [
      'Equity after fees and slippage',
      'Drawdown from peak equity',
      'Predicted and realised next-period log returns',
      'Predicted (x) vs realised (y)',
      'Rolling directional accuracy',
    ]) {
      expect(html).toContain(title);
    }
    expect(html.match(/<svg /g)?.length).toBe(5);
    expect(html).toMatch(/<polyline [^>]*points="[\d., ]+"/);
    for (const row of ['baseline-ema-drift (model)', 'persistence', 'ema-drift', 'buy-and-hold']) expect(html).toContain(`<td>${row}</td>`);
    expect(html).toContain('1 gap(s)');
    expect(html).toContain(`<td>${new Date(FROM + 30 * H).toISOString()}</td><td>${new Date(FROM + 33 * H).toISOString()}</td><td>3</td>`);
    expect(html).toContain(result.range.from);
    expect(html).toContain(result.range.to);
    expect(html).toContain('<th>version</th><td>1</td>');
    expect(html).toContain('<th>sentimentWindowMs</th>');
    expect(html).toContain('10 bps fee + 5 bps slippage per side (15 bps per side per unit of position change)');
    // The baseline is named in the title, not given the "1" of its code as if it were a trained version.
    expect(html).toContain('<title>BitPredict backtest: baseline-ema-drift on BTCUSDT 1h');
    expect(html).not.toContain('Walk-forward retrains');
  });

  it('lists walk-forward retrains when there are any', () => {
    const html = renderBacktestReport({
      ...result,
      retrains: [
        {
          index: 0,
          at: '2024-05-06T00:00:00.000Z',
          predictsTo: '2024-05-08T00:00:00.000Z',
          trainFrom: '2024-04-01T00:00:00.000Z',
          trainTo: '2024-05-05T00:00:00.000Z',
          valFrom: '2024-05-05T00:00:00.000Z',
          valTo: '2024-05-06T00:00:00.000Z',
          nTrain: 800,
          nVal: 24,
          lastTargetTime: '2024-05-06T00:00:00.000Z',
          seed: 42,
          epochsRun: 2,
          bestEpoch: 1,
          bars: 48,
        },
      ],
    });
    expect(html).toContain('Walk-forward retrains');
    expect(html).toContain('<td>800</td>');
  });

  it('prints n/a instead of NaN or Infinity, and copes with a single bar', () => {
    const one: BacktestResult = {
      ...result,
      series: {
        time: [FROM],
        actual: [0.001],
        pred: [0],
        probUp: [0.5],
        equity: [1],
        buyHoldEquity: [1.001],
        drawdown: [0],
        rollingDirectionalAccuracy: [null],
      },
      trading: { ...result.trading, summary: { ...result.trading.summary, sharpe: null, totalReturn: Number.NaN } },
    };
    const html = renderBacktestReport(one);
    expect(html).not.toMatch(/NaN|Infinity/);
    expect(html).toContain('Fewer than two bars were traded');
  });
});
