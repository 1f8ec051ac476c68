// Model artifacts through Kafka on the real stack, no shared folder: the trainer's publish code
// (announce: chunks on model-artifacts, then the kafka:// announcement on models) and the
// predictor's model server and follower, reading them back. A small model made here forecasts
// exactly as the file:// load of the same artifact; damaged publications (a corrupted chunk, a
// missing chunk, a wrong hash, an announcement without bytes, a meta.json of another version, a
// chunk duplicated with other bytes) are refused with a clear reason while the champion keeps
// serving; a restarted predictor with an empty model store finds the champion from Kafka alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
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
import { ARTIFACT_FILES, CHUNK_HEADERS, artifactUri, artifactsTopic, chunkRecords } from '../../core/models/kafka-artifact.js';
import { announce, announcementOf, sendAnnouncement } from '../../core/models/registry.js';
import { createModelFollower, createModelServer, type ModelFollower, type ModelServer } from '../../processors/predictor/model-server.js';
import type { ModelAnnouncement } from '../../schemas/types.js';
import { artifactDigest, signingFromKeys } from '../../core/models/signing.js';

const NAME = 'lstm-attention';
const T = 6;
const F = FEATURE_NAMES.length;
const CHUNK = 2048;
const SIGNING = signingFromKeys([{ id: 'it', secret: Buffer.from(randomBytes(32).toString('hex')) }]);

describe('model artifacts through Kafka', () => {
  let tp: TestPlatform;
  let store: string;
  let emptyStore: string;
  let tf: TfModule;
  let model: LayersModel;
  const followers: ModelFollower[] = [];

  const meta = (version: string, over: Partial<ArtifactMeta> = {}): ArtifactMeta => ({
    name: NAME,
    version,
    featureSetVersion: 'fs-2',
    featureColumns: [...FEATURE_NAMES],
    normalizer: { columns: [...FEATURE_NAMES], mean: FEATURE_NAMES.map(() => 0), std: FEATURE_NAMES.map(() => 1) },
    T,
    F,
    forecast: gaussianForecastBlock([1, 4]),
    trainedFrom: Date.UTC(2024, 0, 1),
    trainedTo: Date.UTC(2024, 6, 1),
    metrics: { valPinball: 0.01 },
    backend: 'cpu',
    codeVersion: 'test',
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 24 * 3_600_000).toISOString(),
    seed: 7,
    hyperparameters: { units: 16 },
    ...over,
  });

  function kafkaServer(registry: Registry): ModelServer {
    return createModelServer({
      registry,
      logger: tp.logger,
      now: Date.now,
      signing: SIGNING,
      artifacts: { client: tp.platform.kafka, maxBytes: tp.config.models.artifactMaxBytes, timeoutMs: tp.config.models.artifactLoadTimeoutMs },
    });
  }

  async function failures(registry: Registry, reason: string): Promise<number> {
    return (
      (await registry.getSingleMetric('bitpredict_predictor_model_load_failures_total')?.get())?.values.find((v) => v.labels.reason === reason)?.value ?? 0
    );
  }

  /** The files of a saved version, as publishArtifact reads them. */
  function filesOf(version: string): Map<string, Buffer> {
    const dir = artifactDir(store, NAME, version);
    return new Map(ARTIFACT_FILES.map((f) => [f, readFileSync(join(dir, f))]));
  }

  /** Sends chunk records as they are (one per send, as the publish code does), then the announcement. */
  async function publishRaw(version: string, records: OutRecord[], artifactSha256: string): Promise<ModelAnnouncement> {
    const producer = await createProducer(tp.platform.kafka);
    try {
      for (const r of records) await producer.send([r]);
    } finally {
      await producer.close();
    }
    const a = announcementOf(meta(version), store, artifactUri(artifactsTopic(tp.platform.kafka), NAME, version));
    await sendAnnouncement(tp.platform, a, { signing: SIGNING, artifactSha256 });
    return a;
  }

  const windows = Array.from({ length: 5 }, (_, k) => Float32Array.from({ length: T * F }, (_, i) => Math.sin(i * 0.37 + k) * (1 + k / 3)));

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'bp-artifacts-'));
    emptyStore = mkdtempSync(join(tmpdir(), 'bp-artifacts-empty-'));
    tp = await createTestPlatform('artifacts', { BITPREDICT_MODEL_STORE_DIR: store, BITPREDICT_MODEL_ARTIFACT_CHUNK_BYTES: String(CHUNK) });
    tf = (await loadTf('cpu')).tf;
    model = buildModel(tf, { T, F, units: 16, attentionUnits: 8, H: 2, seed: 7 });
  }, 120_000);

  afterAll(async () => {
    for (const f of followers) await f.stop();
    model?.dispose();
    rmSync(store, { recursive: true, force: true });
    rmSync(emptyStore, { recursive: true, force: true });
    await tp?.cleanup();
  });

  it('publishes the artifact as checked chunks before the announcement, and the kafka:// load forecasts as the file:// load', async () => {
    await saveArtifact(tf, model, meta('v1'), store);
    await announce(tp.platform, meta('v1'), store, tp.config.models.artifactChunkBytes, SIGNING);

    const topic = artifactsTopic(tp.platform.kafka);
    const files = filesOf('v1');
    const expectedChunks = [...files.values()].reduce((n, b) => n + Math.max(1, Math.ceil(b.byteLength / CHUNK)), 0);
    expect(files.get('weights.bin')!.byteLength).toBeGreaterThan(2 * CHUNK); // several chunks for the weights
    const records = await readAll(tp.platform.kafka, topic, expectedChunks);
    expect(records).toHaveLength(expectedChunks);
    expect(records.every((r) => (r.value?.byteLength ?? Infinity) <= CHUNK)).toBe(true);
    for (const [file, bytes] of files) {
      const mine = records.filter((r) => r.headers[CHUNK_HEADERS.file]?.toString() === file);
      expect(Buffer.concat(mine.map((r) => r.value as Buffer)).equals(bytes), file).toBe(true);
      expect(mine.every((r) => r.headers[CHUNK_HEADERS.sha256]?.toString() === createHash('sha256').update(bytes).digest('hex'))).toBe(true);
    }

    const [annRecord] = await readAll(tp.platform.kafka, tp.topic('models'), 1);
    const ann = await tp.platform.serde.decode('models', annRecord!.value);
    expect(ann?.artifactUri).toBe(`kafka://${topic}/${NAME}/v1`);

    const viaKafka = kafkaServer(createMetricsRegistry({ service: 'test', defaultMetrics: false }));
    const viaFile = kafkaServer(createMetricsRegistry({ service: 'test', defaultMetrics: false }));
    expect(await viaKafka.loadAnnouncement(ann, { topic: tp.topic('models'), headers: annRecord!.headers })).toBe(true);
    expect(await viaFile.loadDir(artifactDir(store, NAME, 'v1'), 'file v1')).toBe(true);
    expect(viaKafka.current()?.version).toBe('v1');
    for (const x of windows) {
      const a = viaKafka.current()!.fast.predictOne(x);
      expect(a).toEqual(viaFile.current()!.fast.predictOne(x));
    }
  }, 120_000);

  it('refuses damaged publications with a clear reason, keeps the champion serving, then takes the next good one', async () => {
    const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const server = kafkaServer(registry);
    const follower = createModelFollower({ platform: tp.platform, models: { name: NAME, storeDir: emptyStore }, server, logger: tp.logger });
    followers.push(follower);
    await follower.start();
    expect(server.current()?.version).toBe('v1');

    const topic = artifactsTopic(tp.platform.kafka);
    const chunksOf = (version: string, files = filesOf('v1')): OutRecord[] => chunkRecords(topic, NAME, version, files, CHUNK);
    const weight = (rs: OutRecord[], i: number): OutRecord => rs.find((r) => r.key === `${NAME}/${rs[0]!.headers![CHUNK_HEADERS.version]}/weights.bin/${i}`)!;
    // Every damaged version carries v1's model under its own name, so only the damage differs.
    const renamed = (version: string): Map<string, Buffer> => {
      const files = filesOf('v1');
      files.set('meta.json', Buffer.from(JSON.stringify(meta(version))));
      return files;
    };
    const cases: { version: string; records: () => OutRecord[]; reason: string; message: RegExp }[] = [
      {
        version: 'v2',
        reason: 'corrupt',
        message: /v2\/weights\.bin: sha256 .* does not match the published/,
        records: () => {
          const rs = chunksOf('v2', renamed('v2'));
          const c = weight(rs, 1);
          const flipped = Buffer.from(c.value!);
          flipped[5] = (flipped[5] ?? 0) ^ 0x40;
          c.value = flipped;
          return rs;
        },
      },
      {
        version: 'v3',
        reason: 'corrupt',
        message: /v3\/weights\.bin: missing chunk 1 of \d+/,
        records: () => chunksOf('v3', renamed('v3')).filter((r) => r.key !== `${NAME}/v3/weights.bin/1`),
      },
      {
        version: 'v4',
        reason: 'corrupt',
        message: /v4\/meta\.json: sha256 [0-9a-f]{64} of the \d+ bytes read does not match the published 0{63}1/,
        records: () =>
          chunksOf('v4', renamed('v4')).map((r) =>
            r.key?.startsWith(`${NAME}/v4/meta.json/`) ? { ...r, headers: { ...r.headers, [CHUNK_HEADERS.sha256]: `${'0'.repeat(63)}1` } } : r,
          ),
      },
      { version: 'v5', reason: 'unavailable', message: /v5: no artifact bytes for lstm-attention\/v5 in the topic/, records: () => [] },
      {
        version: 'v6',
        reason: 'corrupt',
        message: /v6\/meta\.json: holds lstm-attention\/v1, the announcement is for lstm-attention\/v6/,
        records: () => chunksOf('v6'),
      },
      {
        version: 'v7',
        reason: 'corrupt',
        message: /v7\/weights\.bin: chunk 0 \(offset \d+\) is duplicated with different bytes/,
        records: () => {
          const rs = chunksOf('v7', renamed('v7'));
          const c = weight(rs, 0);
          return [...rs, { ...c, value: Buffer.alloc(c.value!.byteLength, 7) }];
        },
      },
    ];
    const counts: Record<string, number> = { corrupt: 0, unavailable: 0 };
    for (const c of cases) {
      // Signed over the files the publisher meant to send (v6: v1's files), so only the damage differs.
      await publishRaw(c.version, c.records(), artifactDigest(c.version === 'v6' ? filesOf('v1') : renamed(c.version)));
      counts[c.reason] = (counts[c.reason] ?? 0) + 1;
      await waitFor(async () => (await failures(registry, c.reason)) >= (counts[c.reason] ?? 0), `${c.version} to be refused (${c.reason})`);
      expect(server.lastRefusal, c.version).toMatch(c.message);
      expect(server.current()?.version, `after ${c.version}`).toBe('v1');
    }
    expect(await failures(registry, 'corrupt')).toBe(5);
    expect(await failures(registry, 'unavailable')).toBe(1);

    // A good publication after all of them is served.
    await saveArtifact(tf, model, meta('v8'), store);
    await announce(tp.platform, meta('v8'), store, tp.config.models.artifactChunkBytes, SIGNING);
    await waitFor(() => server.current()?.version === 'v8', 'v8 to serve');
    expect(server.lastRefusal).toBeNull();
  }, 180_000);

  it('a restarted predictor with an empty model store finds the champion from Kafka alone', async () => {
    // A rollback re-publishes v1's bytes under the same keys: identical duplicates, accepted.
    await announce(tp.platform, meta('v1'), store, tp.config.models.artifactChunkBytes, SIGNING);
    const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const server = kafkaServer(registry);
    const follower = createModelFollower({
      platform: tp.platform,
      models: { name: NAME, storeDir: emptyStore },
      server,
      logger: tp.logger,
      catchUpMs: 120_000,
    });
    followers.push(follower);
    await follower.start();
    expect(server.current()?.version).toBe('v1');
    const viaFile = kafkaServer(createMetricsRegistry({ service: 'test', defaultMetrics: false }));
    expect(await viaFile.loadDir(artifactDir(store, NAME, 'v1'), 'file v1')).toBe(true);
    for (const x of windows) expect(server.current()!.fast.predictOne(x)).toEqual(viaFile.current()!.fast.predictOne(x));
    // On the way it refused the damaged versions again, exactly as the first time.
    expect(await failures(registry, 'corrupt')).toBe(5);
    expect(await failures(registry, 'unavailable')).toBe(1);
  }, 240_000);
});
