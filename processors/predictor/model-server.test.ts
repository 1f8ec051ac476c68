// The model server without Kafka: loads a real (tiny, untrained) artifact, swaps atomically, keeps
// the champion on a refused artifact (corrupt, wrong feature set, expired, unknown URI, kafka:// without a Kafka client), and
// reports expiry in its status and gauge; loads only announcements whose signature checks out
// (unsigned, unknown key, changed field, replayed, changed artifact bytes: refused, v1 kept).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { createLogger } from '../../core/logger.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import { loadTf, type TfModule } from '../../core/models/tf.js';
import { buildModel } from '../../core/models/model.js';
import { gaussianForecastBlock } from '../../core/models/head.js';
import { saveArtifact, type ArtifactMeta } from '../../core/models/artifact.js';
import { createFastPredictor } from '../../core/models/fast.js';
import { FEATURE_NAMES } from '../../core/models/domain/dataset.js';
import { announcementOf } from '../../core/models/registry.js';
import { readArtifactDir } from '../../core/models/kafka-artifact.js';
import { SIGNATURE_HEADERS, artifactDigest, signAnnouncement, signingFromKeys, type SigningKey } from '../../core/models/signing.js';
import type { ModelAnnouncement } from '../../schemas/types.js';
import { createModelServer, type AnnouncementRecord, type ModelServer } from './model-server.js';

const T = 4;
const F = FEATURE_NAMES.length;
const T0 = Date.UTC(2026, 0, 1);
const TOPIC = 'models';
const KEY: SigningKey = { id: 'k1', secret: Buffer.from('test-key-0123456789abcdef0123456789abcdef') };
const OTHER: SigningKey = { id: 'k1', secret: Buffer.from('attacker-key-0123456789abcdef0123456789') };

let signedAt = T0;
/** The record of an announcement signed with `key` now (the digest of its folder's files, or zeros when it has none). */
async function signedRecord(a: ModelAnnouncement, key: SigningKey = KEY, at = ++signedAt): Promise<AnnouncementRecord> {
  let digest = '0'.repeat(64);
  if (a.artifactUri.startsWith('file://')) {
    try {
      digest = artifactDigest(await readArtifactDir(a.artifactUri.slice('file://'.length)));
    } catch {
      // a folder with a file missing: the load refuses it, whatever the signature
    }
  }
  return { topic: TOPIC, headers: signAnnouncement(a, key, { topic: TOPIC, signedAt: at, artifactSha256: digest }) };
}

describe('model server', () => {
  let tf: TfModule;
  let model: LayersModel;
  let store: string;
  let registry: Registry;
  let server: ModelServer;
  let clock = T0;

  const meta = (version: string, over: Partial<ArtifactMeta> = {}): ArtifactMeta => ({
    name: 'lstm-attention',
    version,
    featureSetVersion: 'fs-2',
    featureColumns: [...FEATURE_NAMES],
    normalizer: { columns: [...FEATURE_NAMES], mean: FEATURE_NAMES.map(() => 0), std: FEATURE_NAMES.map(() => 1) },
    T,
    F,
    forecast: gaussianForecastBlock([1]),
    trainedFrom: Date.UTC(2024, 0, 1),
    trainedTo: Date.UTC(2024, 6, 1),
    metrics: {},
    backend: 'cpu',
    codeVersion: 'test',
    createdAt: new Date(T0).toISOString(),
    expiresAt: new Date(T0 + 3_600_000).toISOString(),
    seed: 3,
    hyperparameters: {},
    ...over,
  });
  const load = async (a: ModelAnnouncement): Promise<boolean> => server.loadAnnouncement(a, await signedRecord(a));
  const failures = async (reason: string): Promise<number> =>
    (await registry.getSingleMetric('bitpredict_predictor_model_load_failures_total')?.get())?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
  const expiresIn = async (): Promise<{ version: string; value: number }[]> =>
    ((await registry.getSingleMetric('bitpredict_predictor_model_expires_in_seconds')?.get())?.values ?? []).map((v) => ({
      version: String(v.labels.version),
      value: v.value,
    }));

  beforeAll(async () => {
    tf = (await loadTf('cpu')).tf;
    model = buildModel(tf, { T, F, units: 4, attentionUnits: 4, seed: 3 });
    store = await mkdtemp(join(tmpdir(), 'bp-model-server-'));
    registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    server = createModelServer({ registry, logger: createLogger({ level: 'silent', name: 'test' }), now: () => clock, signing: signingFromKeys([KEY]) });
  });

  afterAll(async () => {
    model.dispose();
    await rm(store, { recursive: true, force: true });
  });

  it('serves nothing until a model is loaded, then the announced one with the same outputs as the saved model', async () => {
    expect(server.current()).toBeNull();
    expect(server.status(clock)).toBeNull();
    await saveArtifact(tf, model, meta('v1'), store);
    expect(await load(announcementOf(meta('v1'), store))).toBe(true);
    const m = server.current();
    expect(m).toMatchObject({ name: 'lstm-attention', version: 'v1', T, expiresAt: T0 + 3_600_000 });
    expect(server.status(clock)).toBe('lstm-attention@v1');
    expect(await expiresIn()).toEqual([{ version: 'v1', value: 3600 }]);
    const x = Float32Array.from({ length: T * F }, (_, i) => Math.cos(i));
    expect(m?.fast.predictOne(x)).toEqual(createFastPredictor(model, gaussianForecastBlock([1])).predictOne(x));
  });

  it('refuses a corrupt, an incompatible, an expired and a non-file artifact and keeps v1', async () => {
    const bad = await saveArtifact(tf, model, meta('v2'), store);
    await truncate(join(bad, 'weights.bin'), 10);
    expect(await load(announcementOf(meta('v2'), store))).toBe(false);
    expect(await failures('corrupt')).toBe(1);
    expect(server.lastRefusal).toMatch(/v2\/weights\.bin: 10 bytes/);

    await saveArtifact(tf, model, meta('v3', { featureSetVersion: 'fs-1' }), store);
    expect(await load(announcementOf(meta('v3', { featureSetVersion: 'fs-1' }), store))).toBe(false);
    expect(await failures('incompatible')).toBe(1);

    const past = meta('v4', { expiresAt: new Date(T0 - 1).toISOString() });
    await saveArtifact(tf, model, past, store);
    expect(await load(announcementOf(past, store))).toBe(false);
    // The meta is checked too, whatever the announcement says.
    expect(await load({ ...announcementOf(past, store), expiresAt: null })).toBe(false);
    expect(await failures('expired')).toBe(2);

    expect(await load({ ...announcementOf(meta('v1'), store), artifactUri: 's3://bucket/v1' })).toBe(false);
    expect(await failures('uri')).toBe(1);
    // A kafka:// artifact needs a Kafka client to read it from; this server has none.
    expect(await load({ ...announcementOf(meta('v1'), store), artifactUri: 'kafka://model-artifacts/lstm-attention/v1' })).toBe(false);
    expect(server.lastRefusal).toMatch(/reads no kafka:\/\/ artifacts/);
    expect(await failures('uri')).toBe(2);
    expect(server.current()?.version).toBe('v1');
    expect(server.status(clock)).toBe('lstm-attention@v1');
  });

  it('refuses an artifact without a servable forecast head (old point-forecast model, crossing shapes) and keeps v1', async () => {
    const before = await failures('incompatible');
    const good = await saveArtifact(tf, model, meta('v6'), store);
    const old = join(store, 'lstm-attention', 'v6-old');
    await cp(good, old, { recursive: true });
    const m = JSON.parse(await readFile(join(old, 'meta.json'), 'utf8')) as Record<string, unknown>;
    delete m.forecast;
    m.version = 'v6-old';
    await writeFile(join(old, 'meta.json'), JSON.stringify(m));
    expect(await server.loadDir(old, 'test old')).toBe(false);
    expect(server.lastRefusal).toMatch(/no forecast block: it is an old point-forecast model; retrain/);

    const crossing = join(store, 'lstm-attention', 'v6-crossing');
    await cp(good, crossing, { recursive: true });
    const c = JSON.parse(await readFile(join(crossing, 'meta.json'), 'utf8')) as { forecast: { shapes: { z: number[] }[] } };
    c.forecast.shapes[0]!.z[150] = -5;
    await writeFile(join(crossing, 'meta.json'), JSON.stringify(c));
    expect(await server.loadDir(crossing, 'test crossing')).toBe(false);
    expect(server.lastRefusal).toMatch(/shapes\[0\] \(horizon 1\): shape quantiles cross/);
    expect(await failures('incompatible')).toBe(before + 2);
    expect(server.current()?.version).toBe('v1');
  });

  it('serves one distribution per horizon beside the horizon-1 point fields', () => {
    const m = server.current();
    const x = Float32Array.from({ length: T * F }, (_, i) => Math.sin(i));
    const p = m!.fast.predictOne(x);
    expect(m!.fast.horizons).toEqual([1]);
    expect(p.distributions).toHaveLength(1);
    expect(p.ret).toBe(p.distributions[0]!.mean);
    expect(p.probUp).toBe(p.distributions[0]!.probUp);
    expect(p.distributions[0]!.quantiles).toHaveLength(7);
  });

  it('reports an expired champion, which the handler then does not use', async () => {
    const m = server.current();
    expect(m).not.toBeNull();
    if (!m) return;
    expect(server.isExpired(m, T0 + 3_599_999)).toBe(false);
    clock = T0 + 3_600_000;
    expect(server.isExpired(m, clock)).toBe(true);
    expect(server.status(clock)).toBe('expired v1');
    expect(await expiresIn()).toEqual([{ version: 'v1', value: 0 }]);
    clock = T0 + 3_660_000;
    server.status(clock);
    expect(await expiresIn()).toEqual([{ version: 'v1', value: -60 }]);
  });

  it('swaps in a newer model with one assignment; the old object stays intact for a record in flight', async () => {
    clock = T0;
    const before = server.current();
    await saveArtifact(tf, model, meta('v5', { expiresAt: null }), store);
    expect(await server.loadDir(join(store, 'lstm-attention', 'v5'), 'test')).toBe(true);
    expect(server.current()?.version).toBe('v5');
    expect(before?.version).toBe('v1');
    expect(server.lastRefusal).toBeNull();
    expect(await expiresIn()).toEqual([{ version: 'v5', value: Number.POSITIVE_INFINITY }]);
  });

  it('refuses unsigned, wrong-key, tampered, replayed and changed-artifact announcements; the champion keeps serving', async () => {
    clock = T0;
    await saveArtifact(tf, model, meta('v7', { expiresAt: null }), store);
    const a = announcementOf(meta('v7', { expiresAt: null }), store);
    const before = await failures('signature');
    const refusedWith = async (r: AnnouncementRecord, ann: ModelAnnouncement, why: RegExp): Promise<void> => {
      expect(await server.loadAnnouncement(ann, r)).toBe(false);
      expect(server.lastRefusal).toMatch(why);
      expect(server.current()?.version).toBe('v5');
    };
    await refusedWith({ topic: TOPIC, headers: {} }, a, /unsigned announcement refused .*BITPREDICT_MODEL_SIGNING/);
    await refusedWith(await signedRecord(a, OTHER), a, /signature does not match under key k1/);
    await refusedWith(await signedRecord(a, { ...OTHER, id: 'k9' }), a, /key id "k9" refused: not one of the accepted keys \[k1\]/);
    // A field changed after signing: the version, the URI, the expiry, a metric.
    const good = await signedRecord(a);
    await refusedWith(good, { ...a, artifactUri: `file://${join(store, 'lstm-attention', 'v5')}` }, /signature does not match/);
    await refusedWith(good, { ...a, expiresAt: T0 + 1 }, /signature does not match/);
    await refusedWith(good, { ...a, metrics: { pinball: 0 } }, /signature does not match/);
    // The signature moved to another topic (an environment prefix) does not hold either.
    await refusedWith({ ...good, topic: 'staging.models' }, a, /signature does not match/);
    // A changed signed header: the digest, the time.
    await refusedWith({ topic: TOPIC, headers: { ...good.headers, [SIGNATURE_HEADERS.artifactSha256]: 'f'.repeat(64) } }, a, /signature does not match/);
    await refusedWith({ topic: TOPIC, headers: { ...good.headers, [SIGNATURE_HEADERS.signature]: 'zz' } }, a, /malformed signature/);
    // The bytes changed after signing: the announcement is intact, the artifact is not.
    const dir = join(store, 'lstm-attention', 'v7');
    const weights = await readFile(join(dir, 'weights.bin'));
    const flipped = Buffer.from(weights);
    flipped[0] = flipped[0]! ^ 0xff;
    await writeFile(join(dir, 'weights.bin'), flipped);
    await refusedWith(good, a, /digest [0-9a-f]{64} is not the signed [0-9a-f]{64}/);
    await writeFile(join(dir, 'weights.bin'), weights);
    expect(await failures('signature')).toBe(before + 10);

    // Signed properly it loads; one signed at the same time or earlier than the accepted one is a replay.
    const older = await signedRecord(a);
    const newer = await signedRecord(a);
    expect(await server.loadAnnouncement(a, newer)).toBe(true);
    expect(server.current()?.version).toBe('v7');
    await saveArtifact(tf, model, meta('v8', { expiresAt: null }), store);
    const v8 = announcementOf(meta('v8', { expiresAt: null }), store);
    expect(await server.loadAnnouncement(v8, await signedRecord(v8, KEY, signedAt))).toBe(false);
    expect(server.lastRefusal).toMatch(/replayed announcement refused/);
    expect(await server.loadAnnouncement(a, older)).toBe(false);
    expect(server.current()?.version).toBe('v7');
  });

  it('with signing off, loads unsigned announcements (and says so)', async () => {
    const lines: string[] = [];
    const off = createModelServer({
      registry: createMetricsRegistry({ service: 'test', defaultMetrics: false }),
      logger: createLogger({ level: 'warn', name: 'test', destination: { write: (l: string) => void lines.push(l) } }),
      now: () => clock,
      signing: { mode: 'off', signer: null, keys: new Map(), origin: 'BITPREDICT_MODEL_SIGNING=off', secrets: [] },
    });
    expect(await off.loadAnnouncement(announcementOf(meta('v7', { expiresAt: null }), store), { topic: TOPIC, headers: {} })).toBe(true);
    expect(lines.join('')).toContain('BITPREDICT_MODEL_SIGNING=off');
  });
});
