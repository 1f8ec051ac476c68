// One cost model for evaluate and backtest (trainer/domain/costs.ts): the same defaults, printed
// as the same `costs` object in both commands' outputs; and backtest's --model
// latest|champion|<version>|baseline. Runs on SYNTHETIC hourly candles in a temp data folder, with
// one tiny model trained here (--no-announce, never promoted by the rule) in a temp model store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createOutput } from './output.js';
import { train } from './train.js';
import { backtest, resolveModel } from './backtest.js';
import { evaluate } from './evaluate.js';
import { listVersions, recordPromotion } from '../core/models/registry.js';
import type { ArtifactMeta } from '../core/models/artifact.js';
import type { BacktestResult } from '../trainer/backtest/engine.js';
import type { EvaluationResult } from '../trainer/domain/report.js';
import { DEFAULT_COSTS } from '../trainer/domain/costs.js';
import { syntheticDataDir } from '../test/helpers/synthetic-data.js';
import { rejection } from '../test/helpers/errors.js';

const NAME = 'lstm-attention';
const RANGE = ['--interval', '1h', '--from', '2024-09-25T00:00:00Z', '--to', '2024-10-10T00:00:00Z'];

describe('one cost model; backtest --model latest|champion|<version>|baseline', () => {
  let data: string;
  let store: string;
  let out: string;
  let trained: ArtifactMeta;
  let stdout: string[] = [];
  const ctx = (args: string[]) => ({
    config: loadConfig(
      {},
      { BITPREDICT_DATA_DIR: data, BITPREDICT_MODEL_STORE_DIR: store, BITPREDICT_LOG_LEVEL: 'silent', BITPREDICT_MODEL_PROMOTION_MARGIN: '1' },
    ),
    logger: createLogger({ level: 'silent', name: 'test' }),
    output: createOutput({ stdout: { write: (s: string) => stdout.push(s) }, stderr: { write: () => true } }),
    args,
    env: {},
  });
  /** The command's one JSON summary line on stdout, and the JSON result it wrote. */
  async function runBacktest(args: string[]): Promise<{ summary: Record<string, unknown>; result: BacktestResult }> {
    stdout = [];
    expect(await backtest(ctx([...RANGE, ...args, '--source', 'files', '--out', out, '--backend', 'cpu']))).toBe(0);
    return { summary: JSON.parse(stdout.join('')) as Record<string, unknown>, result: JSON.parse(readFileSync(`${out}.json`, 'utf8')) as BacktestResult };
  }

  beforeAll(async () => {
    data = syntheticDataDir(Date.UTC(2024, 7, 1), Date.UTC(2024, 9, 15));
    store = mkdtempSync(join(tmpdir(), 'bp-costs-store-'));
    out = join(mkdtempSync(join(tmpdir(), 'bp-costs-out-')), 'r');
    const args = ['--train-from', '2024-08-20T00:00:00Z', '--train-to', '2024-09-15T00:00:00Z', '--val-days', '5'];
    expect(await train(ctx([...args, '--epochs', '1', '--units', '4', '--T', '8', '--backend', 'cpu', '--no-announce']))).toBe(0);
    const versions = await listVersions(store, NAME);
    expect(versions).toHaveLength(1);
    trained = versions[0]!.meta!;
  }, 180_000);

  afterAll(() => {
    for (const d of [data, store, join(out, '..')]) rmSync(d, { recursive: true, force: true });
  });

  it('evaluate and backtest print the same costs object by default, and both take --fee-bps / --slippage-bps', async () => {
    const bt = await runBacktest(['--model', 'baseline']);
    expect(bt.summary.costs).toEqual({ feeBps: 10, slippageBps: 5, perSide: true });
    expect(bt.summary.costs).toEqual(DEFAULT_COSTS);
    expect(bt.result.costs).toEqual(bt.summary.costs);
    expect(bt.result.trading.costBpsPerSide).toBe(15);
    expect(readFileSync(`${out}.html`, 'utf8')).toContain('10 bps fee + 5 bps slippage per side');

    const evalOut = join(mkdtempSync(join(tmpdir(), 'bp-costs-eval-')), 'e');
    const evalArgs = ['--from', '2024-08-10T00:00:00Z', '--to', '2024-10-10T00:00:00Z', '--train-periods', '800', '--val-periods', '100'];
    const tiny = ['--test-periods', '300', '--epochs', '1', '--units', '4', '--T', '8', '--backend', 'cpu', '--out', evalOut];
    stdout = [];
    expect(await evaluate(ctx([...evalArgs, ...tiny]))).toBe(0);
    const evalSummary = JSON.parse(stdout.join('')) as Record<string, unknown>;
    const evalResult = JSON.parse(readFileSync(`${evalOut}.json`, 'utf8')) as EvaluationResult;
    expect(evalSummary.costs).toEqual(bt.summary.costs);
    expect(evalResult.costs).toEqual(bt.result.costs);
    expect(evalResult.trading.costBpsPerSide).toBe(bt.result.trading.costBpsPerSide);
    // Every trading summary of the evaluation was charged fee + slippage, as the backtest's are.
    expect(evalResult.overall.buyAndHold.feeBps).toBe(15);
    expect(bt.result.metrics.buyAndHold.feeBps).toBe(15);
    expect(readFileSync(`${evalOut}.html`, 'utf8')).toContain('10 bps fee + 5 bps slippage per side');

    // The same flags change both.
    stdout = [];
    expect(await evaluate(ctx([...evalArgs, ...tiny, '--fee-bps', '2.5', '--slippage-bps', '0']))).toBe(0);
    expect((JSON.parse(stdout.join('')) as Record<string, unknown>).costs).toEqual({ feeBps: 2.5, slippageBps: 0, perSide: true });
    const cheap = await runBacktest(['--model', 'baseline', '--fee-bps', '2.5', '--slippage-bps', '0']);
    expect(cheap.summary.costs).toEqual({ feeBps: 2.5, slippageBps: 0, perSide: true });
    expect(cheap.result.metrics.buyAndHold.feeBps).toBe(2.5);
    rmSync(join(evalOut, '..'), { recursive: true, force: true });
  }, 300_000);

  it('refuses bad costs on both commands before reading any data, naming the flag', async () => {
    for (const [command, args] of [
      [backtest, [...RANGE, '--model', 'baseline']],
      [evaluate, ['--from', '2024-08-10T00:00:00Z']],
    ] as const) {
      for (const [flags, pattern] of [
        [['--fee-bps=-1'], /--fee-bps: "-1" is not a number of basis points >= 0/],
        [['--slippage-bps', 'lots'], /--slippage-bps: "lots" is not a number/],
        [['--fee-bps', ''], /--fee-bps: "" is not a number/],
        [['--fee-bps', '9000', '--slippage-bps', '1000'], /--fee-bps \+ --slippage-bps: feeBps \+ slippageBps \(10000\) must be below 10000/],
      ] as const) {
        const err = await rejection(command(ctx([...args, ...flags])));
        expect(err.code).toBe('ERR_CONFIG_INVALID');
        expect(err.message).toMatch(pattern);
      }
    }
  });

  it('the baseline is named in the summary, not given the "1" of its code', async () => {
    const { summary, result } = await runBacktest(['--model', 'baseline']);
    expect(summary.model).toBe('baseline-ema-drift');
    expect(summary.modelChoice).toBe('baseline');
    expect(result.model).toMatchObject({ choice: 'baseline', label: 'baseline', name: 'baseline-ema-drift' });
  }, 120_000);

  it('--model latest trades on the newest version though it is not promoted; <version> and champion name theirs', async () => {
    const v = trained.version;
    const latest = await runBacktest(['--model', 'latest']);
    expect(latest.summary).toMatchObject({ model: v, modelChoice: 'latest' });
    expect(latest.result.model).toMatchObject({ choice: 'artifact', label: 'latest', version: v });

    const byVersion = await runBacktest(['--model', v]);
    expect(byVersion.summary).toMatchObject({ model: v, modelChoice: v });
    expect(byVersion.result.metrics).toEqual(latest.result.metrics);

    // No champion yet: the error lists the versions there are and the choices --model takes.
    const noChampion = await rejection(resolveModel(store, NAME, 'champion'));
    expect(noChampion.code).toBe('ERR_CONFIG_INVALID');
    expect(noChampion.message).toContain(`--model champion: model ${NAME} has no champion yet; known versions: ${v}`);
    expect(noChampion.message).toContain('--model takes latest, champion, a version or baseline');
    await recordPromotion(store, NAME, v, 'by hand in a test');
    expect(await resolveModel(store, NAME, 'champion')).toEqual({ kind: 'artifact', dir: join(store, NAME, v), label: 'champion' });

    // A newer version, not promoted: latest is it, champion stays.
    const newer = '2099-01-01T00-00-00-000Z';
    cpSync(join(store, NAME, v), join(store, NAME, newer), { recursive: true });
    writeFileSync(join(store, NAME, newer, 'meta.json'), JSON.stringify({ ...trained, version: newer, createdAt: '2099-01-01T00:00:00.000Z' }));
    const chosen = await resolveModel(store, NAME, 'latest');
    expect(chosen).toMatchObject({ kind: 'artifact', label: 'latest' });
    expect(chosen.kind === 'artifact' && basename(chosen.dir)).toBe(newer);
    expect(await resolveModel(store, NAME, 'champion')).toMatchObject({ label: 'champion', dir: join(store, NAME, v) });

    const unknown = await rejection(resolveModel(store, NAME, 'no-such-version'));
    expect(unknown.code).toBe('ERR_CONFIG_INVALID');
    expect(unknown.message).toContain(`known versions: ${v}, ${newer}`);
    expect(unknown.message).toContain('BITPREDICT_MODEL_STORE_DIR');
    expect((await rejection(resolveModel(store, NAME, '../etc'))).code).toBe('ERR_CONFIG_INVALID');

    // An empty store: latest says there is nothing to choose.
    const empty = mkdtempSync(join(tmpdir(), 'bp-costs-empty-'));
    const none = await rejection(resolveModel(empty, NAME, 'latest'));
    expect(none.message).toMatch(/--model latest: model lstm-attention has no readable version .*known versions: none \(train one with bitpredict train\)/);
    rmSync(empty, { recursive: true, force: true });
  }, 180_000);
});
