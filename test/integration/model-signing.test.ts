// Signed model announcements on the real stack (issue 17: "anyone who can write the models topic can
// change what is served"). A predictor's follower serves v1, published and signed as the trainer
// does; then stray writes to the models topic: an unsigned announcement of a real artifact, one
// signed with another key under the same key id, one whose signed fields were edited, and the v1
// record replayed byte for byte after its artifact chunks were replaced by other weights
// (tombstones, then new chunks under v1's keys). None changes what is served, each refusal is
// counted (reason `signature`) and names the setting; a predictor started afterwards from the
// beginning of the topic does not serve the swapped weights either; the next genuine announcement
// is served by both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { createTestPlatform, waitFor, type TestPlatform } from '../helpers/platform.js';
import { readAll } from '../helpers/kafka-read.js';
import { createProducer } from '../../core/kafka/producer.js';
import type { OutRecord } from '../../core/kafka/records.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import { loadTf, type TfModule } from '../../core/models/tf.js';
import { buildModel } from '../../core/models/model.js';
import { gaussianForecastBlock } from '../../core/models/head.js';
import { artifactDir, saveArtifact, type ArtifactMeta } from '../../core/models/artifact.js';
import { FEATURE_NAMES } from '../../core/models/domain/dataset.js';
import { ARTIFACT_FILES, artifactUri, artifactsTopic, chunkRecords, publishArtifact } from '../../core/models/kafka-artifact.js';
import { announce, announcementOf } from '../../core/models/registry.js';
import { SIGNATURE_HEADERS, signAnnouncement, signingFromKeys } from '../../core/models/signing.js';
import { createModelFollower, createModelServer, type ModelFollower, type ModelServer } from '../../processors/predictor/model-server.js';

const NAME = 'lstm-attention';
const T = 6;
const F = FEATURE_NAMES.length;
const CHUNK = 4096;
const key = (id: string) => ({ id, secret: Buffer.from(randomBytes(32).toString('hex')) });

describe('signed model announcements against stray writes to the models topic', () => {
  let tp: TestPlatform;
  let store: string;
  let emptyStore: string;
  let tf: TfModule;
  let models: LayersModel[] = [];
  const followers: ModelFollower[] = [];
  const K = key('k2026');
  const SIGNING = signingFromKeys([K]);

  const meta = (version: string): ArtifactMeta => ({
    name: NAME,
    version,
    featureSetVersion: 'fs-2',
    featureColumns: [...FEATURE_NAMES],
    normalizer: { columns: [...FEATURE_NAMES], mean: FEATURE_NAMES.map(() => 0), std: FEATURE_NAMES.map(() => 1) },
    T,
    F,
    forecast: gaussianForecastBlock([1]),
    trainedFrom: Date.UTC(2024, 0, 1),
    trainedTo: Date.UTC(2024, 6, 1),
    metrics: { valPinball: 0.01 },
    backend: 'cpu',
    codeVersion: 'test',
    createdAt: new Date().toISOString(),
    expiresAt: null,
    seed: 7,
    hyperparameters: {},
  });

  const x = Float32Array.from({ length: T * F }, (_, i) => Math.sin(i * 0.37));

  async function failures(registry: Registry): Promise<number> {
    return (
      (await registry.getSingleMetric('bitpredict_predictor_model_load_failures_total')?.get())?.values.find((v) => v.labels.reason === 'signature')?.value ?? 0
    );
  }

  function predictor(): { server: ModelServer; registry: Registry; follower: ModelFollower } {
    const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const server = createModelServer({
      registry,
      logger: tp.logger,
      now: Date.now,
      signing: SIGNING,
      artifacts: { client: tp.platform.kafka, maxBytes: tp.config.models.artifactMaxBytes, timeoutMs: tp.config.models.artifactLoadTimeoutMs },
    });
    const follower = createModelFollower({ platform: tp.platform, models: { name: NAME, storeDir: emptyStore }, server, logger: tp.logger, catchUpMs: 60_000 });
    followers.push(follower);
    return { server, registry, follower };
  }

  async function send(records: OutRecord[]): Promise<void> {
    const producer = await createProducer(tp.platform.kafka);
    try {
      for (const r of records) await producer.send([r]);
    } finally {
      await producer.close();
    }
  }

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'bp-signing-store-'));
    emptyStore = mkdtempSync(join(tmpdir(), 'bp-signing-empty-'));
    tp = await createTestPlatform('signing', { BITPREDICT_MODEL_STORE_DIR: store, BITPREDICT_MODEL_ARTIFACT_CHUNK_BYTES: String(CHUNK) });
    tf = (await loadTf('cpu')).tf;
    models = [1, 2].map((seed) => buildModel(tf, { T, F, units: 8, attentionUnits: 4, seed }));
  }, 120_000);

  afterAll(async () => {
    for (const f of followers) await f.stop();
    for (const m of models) m.dispose();
    rmSync(store, { recursive: true, force: true });
    rmSync(emptyStore, { recursive: true, force: true });
    await tp?.cleanup();
  });

  it('unsigned, wrong-key, edited and replayed-with-swapped-artifact announcements change nothing', async () => {
    const modelsTopic = tp.topic('models');
    const aTopic = artifactsTopic(tp.platform.kafka);
    await saveArtifact(tf, models[0]!, meta('v1'), store);
    await announce(tp.platform, meta('v1'), store, CHUNK, SIGNING);
    const live = predictor();
    await live.follower.start();
    expect(live.server.current()?.version).toBe('v1');
    const v1Forecast = live.server.current()!.fast.predictOne(x);

    // v2's bytes are published as the trainer would; only its announcement is a stray write.
    await saveArtifact(tf, models[1]!, meta('v2'), store);
    const { uri, sha256 } = await publishArtifact(tp.platform, artifactDir(store, NAME, 'v2'), meta('v2'), CHUNK);
    const v2 = announcementOf(meta('v2'), store, uri);
    const value = tp.platform.serde.encode('models', v2);
    const attacker = key('k2026'); // the right id, not the right secret
    const signedBy = (k: typeof K, a = v2) => signAnnouncement(a, k, { topic: modelsTopic, signedAt: Date.now(), artifactSha256: sha256 });
    const edited = { ...signedBy(K, { ...v2, version: 'v1' }) }; // signed for other field values than the record carries
    const strays: { what: string; record: OutRecord; message: RegExp }[] = [
      { what: 'unsigned', record: { topic: modelsTopic, key: NAME, value }, message: /unsigned announcement refused/ },
      { what: 'wrong key', record: { topic: modelsTopic, key: NAME, value, headers: signedBy(attacker) }, message: /does not match under key k2026/ },
      { what: 'edited', record: { topic: modelsTopic, key: NAME, value, headers: edited }, message: /does not match under key k2026/ },
    ];
    let refused = 0;
    for (const s of strays) {
      await send([s.record]);
      refused++;
      await waitFor(async () => (await failures(live.registry)) >= refused, `the ${s.what} announcement to be refused`);
      expect(live.server.lastRefusal, s.what).toMatch(s.message);
      expect(live.server.lastRefusal, s.what).toMatch(/BITPREDICT_MODEL_SIGNING_KEY/);
      expect(live.server.current()?.version, s.what).toBe('v1');
    }

    // The replay: v1's chunks deleted (tombstones) and replaced by v2's weights under v1's keys,
    // then v1's signed record sent again exactly as it was.
    const v1Files = new Map(ARTIFACT_FILES.map((f) => [f, readFileSync(join(artifactDir(store, NAME, 'v1'), f))]));
    const swapped = new Map(v1Files);
    swapped.set('weights.bin', readFileSync(join(artifactDir(store, NAME, 'v2'), 'weights.bin')));
    swapped.set('model.json', readFileSync(join(artifactDir(store, NAME, 'v2'), 'model.json')));
    const tombstones = chunkRecords(aTopic, NAME, 'v1', v1Files, CHUNK).map((r) => ({ topic: r.topic, key: r.key, value: null }));
    await send([...tombstones, ...chunkRecords(aTopic, NAME, 'v1', swapped, CHUNK)]);
    const [original] = (await readAll(tp.platform.kafka, modelsTopic, 4)).filter((r) => r.headers[SIGNATURE_HEADERS.keyId] !== undefined);
    expect((await tp.platform.serde.decode('models', original!.value)).artifactUri).toBe(artifactUri(aTopic, NAME, 'v1'));
    const headers = Object.fromEntries(Object.entries(original!.headers).map(([k, v]) => [k, v!.toString()]));
    await send([{ topic: modelsTopic, key: NAME, value: original!.value, headers }]);
    refused++;
    await waitFor(async () => (await failures(live.registry)) >= refused, 'the replayed announcement to be refused');
    expect(live.server.lastRefusal).toMatch(/replayed announcement refused/);
    expect(live.server.current()?.version).toBe('v1');
    expect(live.server.current()!.fast.predictOne(x)).toEqual(v1Forecast);

    // A predictor started now reads the whole topic: v1's record finds other bytes under v1's keys
    // (refused as corrupt here; once compaction has dropped the old chunks, the signed digest
    // refuses them: see model-server.test.ts), the strays and the replay are refused as above: no
    // champion, never v2's weights.
    const fresh = predictor();
    await fresh.follower.start();
    expect(fresh.server.current()).toBeNull();
    expect(await failures(fresh.registry)).toBe(4);
    expect(
      (await fresh.registry.getSingleMetric('bitpredict_predictor_model_load_failures_total')?.get())?.values.find((v) => v.labels.reason === 'corrupt')?.value,
    ).toBe(1);
    expect(fresh.server.lastRefusal).toMatch(/replayed announcement refused/);

    // The next genuine announcement is served by both.
    await saveArtifact(tf, models[0]!, meta('v3'), store);
    await announce(tp.platform, meta('v3'), store, CHUNK, SIGNING);
    await waitFor(() => live.server.current()?.version === 'v3' && fresh.server.current()?.version === 'v3', 'v3 to serve');
    expect(fresh.server.current()!.fast.predictOne(x)).toEqual(v1Forecast); // v3 carries v1's weights
  }, 240_000);
});
