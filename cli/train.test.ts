// `bitpredict train` records the data lineage of the artifact it saves, and `bitpredict models
// show <version|latest|champion>` prints it. Runs on SYNTHETIC candles in a temp data folder (no
// Kafka: --no-announce; promotions by hand go through the registry file), so the file hashes are
// checked against node:crypto on the very bytes the command read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createOutput } from './output.js';
import { models, train } from './train.js';
import { isBitPredictError } from '../core/errors.js';
import { listVersions, readRegistry, recordPromotion } from '../core/models/registry.js';
import { loadArtifact, type ArtifactMeta } from '../core/models/artifact.js';
import { loadTf } from '../core/models/tf.js';
import { TEXT_DATA_FILES } from '../core/data/text/index.js';
import { syntheticDataDir } from '../test/helpers/synthetic-data.js';

const NAME = 'lstm-attention';
const CANDLES = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';

describe('train records lineage; models show prints it', () => {
  let data: string;
  let store: string;
  let stdout: string[] = [];
  const ctx = (args: string[]) => ({
    config: loadConfig(
      {},
      {
        BITPREDICT_DATA_DIR: data,
        BITPREDICT_MODEL_STORE_DIR: store,
        BITPREDICT_LOG_LEVEL: 'silent',
        // No model is promoted by the rule: the champion below is set by hand.
        BITPREDICT_MODEL_PROMOTION_MARGIN: '1',
      },
    ),
    logger: createLogger({ level: 'silent', name: 'test' }),
    output: createOutput({ stdout: { write: (s: string) => stdout.push(s) }, stderr: { write: () => true } }),
    args,
    env: {},
  });
  const run = async (args: string[]): Promise<string> => {
    stdout = [];
    expect(await models(ctx(args))).toBe(0);
    return stdout.join('');
  };
  /** "<code>: <message>" of the BitPredictError the command throws. */
  const refusal = async (args: string[]): Promise<string> => {
    try {
      await models(ctx(args));
    } catch (err) {
      if (isBitPredictError(err)) return `${err.code}: ${err.message}`;
      throw err;
    }
    throw new Error(`models ${args.join(' ')} succeeded`);
  };
  let trained: ArtifactMeta;

  beforeAll(async () => {
    data = syntheticDataDir(Date.UTC(2024, 7, 1), Date.UTC(2024, 9, 1));
    store = mkdtempSync(join(tmpdir(), 'bp-train-lineage-'));
    const args = ['--train-from', '2024-08-20T00:00:00Z', '--train-to', '2024-09-20T00:00:00Z', '--val-days', '5'];
    expect(await train(ctx([...args, '--epochs', '1', '--units', '4', '--T', '8', '--backend', 'cpu', '--no-announce']))).toBe(0);
    const versions = await listVersions(store, NAME);
    expect(versions).toHaveLength(1);
    trained = versions[0]!.meta!;
  }, 120_000);

  afterAll(() => {
    rmSync(data, { recursive: true, force: true });
    rmSync(store, { recursive: true, force: true });
  });

  it('the saved meta holds the files read (relative path, size, SHA-256 of the bytes), the rows used and the commit', () => {
    const l = trained.lineage!;
    expect(l.commit).toMatch(/^([0-9a-f]{7,}(-dirty)?|unknown)$/);
    expect(l.dataDir).toBe(data);
    const bytes = readFileSync(join(data, CANDLES));
    const candles = l.sources[0]!;
    expect(candles).toMatchObject({
      kind: 'file',
      role: 'candles',
      path: CANDLES,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    // 200 h of warm-up before the training start, up to the end of validation (openTime < valTo).
    expect(candles).toMatchObject({
      rows: 200 + (31 + 5) * 24,
      firstTime: Date.UTC(2024, 7, 20) - 200 * 3_600_000,
      lastTime: Date.UTC(2024, 8, 25) - 3_600_000,
    });
    // Every text file is named, with its hash, even when (header only) it gave no row.
    expect(l.sources.slice(1).map((s) => (s.kind === 'file' ? [s.role, s.path, s.rows] : null))).toEqual(TEXT_DATA_FILES.map((f) => ['texts', f, 0]));
    for (const s of l.sources.slice(1))
      expect(s.kind === 'file' && s.sha256).toBe(
        createHash('sha256')
          .update(readFileSync(join(data, (s as { path: string }).path)))
          .digest('hex'),
      );
  });

  it('show latest / champion / <version> print the meta and the lineage; --json gives the raw meta', async () => {
    const v = trained.version;
    const latest = await run(['show', 'latest']);
    expect(latest).toContain(`model ${NAME} version ${v}\n`);
    expect(latest).toMatch(/metrics:\n(.*\n)* {2}valPinball +\d/);
    expect(latest).toMatch(/hyperparameters:\n(.*\n)* {2}units +4\n/);
    expect(latest).toMatch(new RegExp(`code commit +${trained.lineage!.commit}`));
    expect(latest).toMatch(
      new RegExp(
        `candles +file ${CANDLES.replace(/[.]/g, '\\.')} \\(\\d+\\.\\d KiB, sha256 [0-9a-f]{64}\\)\\n +used 1064 rows, 2024-08-11T16:00Z \\.\\. 2024-09-24T23:00Z`,
      ),
    );
    expect(await run(['show', v])).toBe(latest);
    expect(JSON.parse(await run(['show', v, '--json']))).toEqual(trained);

    // No champion yet: a clear error with the versions there are.
    expect(await refusal(['show', 'champion'])).toBe(`ERR_NOT_FOUND: model ${NAME} has no champion yet; known versions: ${v}`);
    await recordPromotion(store, NAME, v, 'by hand in a test');
    expect(await run(['show', 'champion'])).toContain(`model ${NAME} version ${v} (champion)\n`);
  });

  it('an artifact saved before lineage was kept still loads and is shown as such; latest is the newest', async () => {
    const dir = join(store, NAME, trained.version);
    const oldDir = join(store, NAME, '2024-01-01T00-00-00-000Z');
    cpSync(dir, oldDir, { recursive: true });
    const { lineage: _dropped, ...old } = trained;
    writeFileSync(join(oldDir, 'meta.json'), JSON.stringify({ ...old, version: '2024-01-01T00-00-00-000Z', createdAt: '2024-01-01T00:00:00.000Z' }));
    const { tf } = await loadTf('cpu');
    const loaded = await loadArtifact(tf, oldDir);
    expect(loaded.meta.lineage).toBeUndefined();
    loaded.model.dispose();
    const text = await run(['show', '2024-01-01T00-00-00-000Z']);
    expect(text).toContain('lineage: not recorded (trained before lineage was kept)\n');
    expect(text).not.toContain('(champion)');
    expect(await run(['show', 'latest'])).toContain(`version ${trained.version} (champion)`);
  });

  it('refuses unknown versions, bad arguments and a broken meta.json clearly', async () => {
    const known = `known versions: 2024-01-01T00-00-00-000Z, ${trained.version}`;
    expect(await refusal(['show', 'no-such-version'])).toBe(`ERR_NOT_FOUND: model ${NAME} has no version "no-such-version"; ${known}`);
    expect(await refusal(['show', '../etc'])).toMatch(/^ERR_NOT_FOUND: .*no version "\.\.\/etc"/);
    expect(await refusal(['show'])).toMatch(/^ERR_CONFIG_INVALID: show takes one version, got 0/);
    expect(await refusal(['show', 'a', 'b'])).toMatch(/^ERR_CONFIG_INVALID: .*got 2/);
    expect(await refusal(['show', 'latest', '--yaml'])).toMatch(/^ERR_CONFIG_INVALID: unknown flag --yaml/);
    expect(await refusal(['frobnicate'])).toMatch(/^ERR_CONFIG_INVALID: usage: .*show <version\|latest\|champion>.*got "frobnicate"/);
    // A meta.json with a malformed lineage names the field; "latest" skips it for the newest readable one.
    const broken = join(store, NAME, '2099-01-01T00-00-00-000Z');
    cpSync(join(store, NAME, trained.version), broken, { recursive: true });
    writeFileSync(
      join(broken, 'meta.json'),
      JSON.stringify({ ...trained, version: '2099-01-01T00-00-00-000Z', lineage: { commit: 'x', sources: [{ kind: 'file' }] } }),
    );
    expect(await refusal(['show', '2099-01-01T00-00-00-000Z'])).toMatch(/^ERR_VALIDATION: .*meta\.json: lineage\.sources\[0\]\.role/);
    expect(await run(['show', 'latest'])).toContain(`version ${trained.version} `);
    // An empty store.
    const empty = mkdtempSync(join(tmpdir(), 'bp-train-empty-'));
    const emptyCtx = { ...ctx(['show', 'latest']), config: { ...ctx([]).config, models: { ...ctx([]).config.models, storeDir: empty } } };
    await expect(models(emptyCtx)).rejects.toThrow(/has no readable version .*known versions: none \(train one with bitpredict train\)/);
    expect((await readRegistry(store, NAME)).champion).toBe(trained.version);
    rmSync(empty, { recursive: true, force: true });
  });
});
