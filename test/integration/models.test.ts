// Model lifecycle on the real stack: `train` saves versioned artifacts and applies the
// champion/challenger rule (a model that does not beat persistence on the validation window is
// kept out); `models promote` makes a version champion and announces it on the compacted models
// topic; `models rollback` returns to the previous champion and announces that.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPlatform, DATA_DIR, type TestPlatform } from '../helpers/platform.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createOutput } from '../../cli/output.js';
import { models, train } from '../../cli/train.js';
import { BitPredictError } from '../../core/errors.js';
import { readRegistry, listVersions } from '../../core/models/registry.js';
import { modelSigningFromConfig, verifyAnnouncement } from '../../core/models/signing.js';
import { readAll } from '../helpers/kafka-read.js';
import { HOURLY_MERGED, hasSharedData } from '../helpers/shared-data.js';
import { TEXT_DATA_FILES } from '../../core/data/text/index.js';

// train reads the merged hourly file and every text file of the data folder.
const HAS_DATA = hasSharedData(HOURLY_MERGED, ...TEXT_DATA_FILES);

describe('model registry: train, promote, announce, rollback', () => {
  let tp: TestPlatform;
  let store: string;
  const out: string[] = [];
  const origWrite = process.stdout.write.bind(process.stdout);

  beforeAll(async () => {
    tp = await createTestPlatform('models');
    store = mkdtempSync(join(tmpdir(), 'bp-models-'));
    process.stdout.write = (chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    };
  });

  afterAll(async () => {
    process.stdout.write = origWrite;
    rmSync(store, { recursive: true, force: true });
    await tp?.cleanup();
  });

  const ctx = (args: string[]) => ({
    config: loadConfig(
      {},
      {
        BITPREDICT_TOPIC_PREFIX: tp.prefix,
        // Children run on the driver under test.
        BITPREDICT_KAFKA_CLIENT: tp.config.kafka.driver,
        BITPREDICT_KAFKA_CLIENT_ID: tp.config.kafka.clientId,
        BITPREDICT_REDIS_KEY_PREFIX: tp.config.redis.keyPrefix,
        BITPREDICT_DATA_DIR: DATA_DIR,
        BITPREDICT_MODEL_STORE_DIR: store,
        BITPREDICT_LOG_LEVEL: 'silent',
        // The whole improvement: no model can be 100 % better than persistence, so both trained
        // versions are kept out whatever their scores (a tiny distributional model can beat
        // persistence's pinball loss by a few per cent) and the promotions below are by hand.
        BITPREDICT_MODEL_PROMOTION_MARGIN: '1',
      },
    ),
    logger: createLogger({ level: 'silent', name: 'test' }),
    output: createOutput({ stdout: process.stdout, stderr: process.stderr }),
    args,
    env: {},
  });
  const tiny = [
    '--train-from',
    '2024-06-01T00:00:00Z',
    '--train-to',
    '2024-08-01T00:00:00Z',
    '--val-days',
    '10',
    '--epochs',
    '1',
    '--units',
    '4',
    '--T',
    '8',
    '--backend',
    'cpu',
  ];

  it('keeps a model that does not beat persistence out, promotes by hand, announces, and rolls back', async (context) => {
    context.skip(!HAS_DATA, 'real data missing (see the skipped: line above)');
    expect(await train(ctx([...tiny, '--seed', '1']))).toBe(0);
    expect(await train(ctx([...tiny, '--seed', '2']))).toBe(0);
    const versions = (await listVersions(store, 'lstm-attention')).map((v) => v.version);
    expect(versions).toHaveLength(2);
    let reg = await readRegistry(store, 'lstm-attention');
    // Whatever the tiny models scored, every decision is recorded with its reason.
    expect(reg.events).toHaveLength(2);
    for (const e of reg.events) expect(e.reason).toMatch(/validation pinball loss .* (below|not)/);

    const [v1, v2] = versions as [string, string];
    expect(await models(ctx(['promote', v1]))).toBe(0);
    expect(await models(ctx(['promote', v2]))).toBe(0);
    reg = await readRegistry(store, 'lstm-attention');
    expect(reg.champion).toBe(v2);
    expect(await models(ctx(['rollback']))).toBe(0);
    reg = await readRegistry(store, 'lstm-attention');
    expect(reg.champion).toBe(v1);
    await expect(models(ctx(['rollback']))).rejects.toThrow(/no earlier champion/);
    await expect(models(ctx(['promote', 'no-such-version']))).rejects.toThrow(/not in the store/);

    const ann = await tp.readAll('models');
    expect(ann.map((a) => a.value?.version)).toEqual([v1, v2, v1]);
    expect(
      ann.every((a) => a.key === 'lstm-attention' && a.value?.artifactUri === `kafka://${tp.prefix}model-artifacts/lstm-attention/${a.value?.version ?? ''}`),
    ).toBe(true);
    expect(ann[0]?.value?.featureSetVersion).toBe('fs-2');
    expect(ann[0]?.value?.expiresAt).toBeGreaterThan(Date.now());
    // Each announcement (promote, promote, rollback) is signed, with the key generated in the
    // store (no key set), each later than the one before: a predictor sharing the store loads them.
    const signing = modelSigningFromConfig({ signing: 'required', signingKey: '', signingKeyFile: '', storeDir: store });
    const raw = await readAll(tp.platform.kafka, tp.topic('models'), 3);
    const checks = await Promise.all(
      raw.map(async (r) => verifyAnnouncement(await tp.platform.serde.decode('models', r.value), r.headers, signing, tp.topic('models'))),
    );
    expect(checks.map((c) => c.ok && c.signed)).toEqual([true, true, true]);
    const times = checks.map((c) => (c.ok && c.signed ? c.signedAt : 0));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(await models(ctx(['list']))).toBe(0);
    expect(out.join('')).toMatch(new RegExp(`\\* ${v1}`));

    // Each artifact names the real files it was trained on, with the SHA-256 of their bytes.
    const meta = (await listVersions(store, 'lstm-attention'))[0]!.meta!;
    const config = ctx([]).config;
    const candles = meta.lineage!.sources[0]!;
    expect(candles).toMatchObject({ kind: 'file', role: 'candles', path: config.replay.file });
    expect(candles.kind === 'file' && candles.sha256).toBe(
      createHash('sha256')
        .update(readFileSync(join(DATA_DIR, config.replay.file)))
        .digest('hex'),
    );
    expect(meta.lineage!.sources.filter((s) => s.role === 'texts').length).toBeGreaterThan(0);
    out.length = 0;
    expect(await models(ctx(['show', 'champion']))).toBe(0);
    expect(out.join('')).toContain(`model lstm-attention version ${v1} (champion)`);
    expect(out.join('')).toMatch(/lineage:\n {2}code commit/);
  }, 120_000);
  it('train --live takes its range from the latest data, never from --train-from/--train-to', async () => {
    await expect(train(ctx(['--live', '--train-to', '2024-08-01T00:00:00Z']))).rejects.toThrow(/--live .* takes no --train-from or --train-to/);
    await expect(train(ctx(['--live', '--train-from', '2024-06-01T00:00:00Z']))).rejects.toThrow(BitPredictError);
    // Research runs keep the final-window rule.
    await expect(train(ctx(['--train-to', '2025-02-01T00:00:00Z', '--val-days', '10']))).rejects.toThrow(/final evaluation window/);
  });
});
