// The models view's state and its store reader, without Kafka: which champion wins (topic over
// store), how versions from both sources merge, and a store that is missing, partly broken or
// unreadable. The topic follower itself is covered by test/integration/gateway-rest.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelAnnouncement } from '../schemas/types.js';
import type { ArtifactMeta } from '../core/models/artifact.js';
import { createModelsState, readStoreView } from './models-view.js';

const NAME = 'lstm-attention';

function ann(version: string, createdAt: number, over: Partial<ModelAnnouncement> = {}): ModelAnnouncement {
  return {
    name: NAME,
    version,
    artifactUri: `file:///topic/${version}`,
    featureSetVersion: 'fs-2',
    trainedFrom: 1,
    trainedTo: 2,
    metrics: { valMse: 0.1 },
    backend: 'cpu',
    codeVersion: 'c',
    createdAt,
    expiresAt: null,
    ...over,
  };
}

function meta(version: string, createdAt: string): ArtifactMeta {
  return {
    name: NAME,
    version,
    featureSetVersion: 'fs-2',
    featureColumns: ['close'],
    normalizer: { columns: ['close'], mean: [0], std: [1] },
    T: 8,
    F: 1,
    returnScale: 100,
    trainedFrom: 10,
    trainedTo: 20,
    metrics: { valMse: 0.2, directionalAccuracy: 0.53 },
    backend: 'cpu',
    codeVersion: 'store',
    createdAt,
    expiresAt: '2030-01-01T00:00:00.000Z',
    seed: 1,
    hyperparameters: { units: 4 },
  };
}

describe('models state', () => {
  it('the latest announcement is the champion; every announced version is listed once, oldest first', () => {
    const s = createModelsState();
    s.announce(ann('v1', 100));
    s.announce(ann('v2', 200));
    s.announce(ann('v1', 100, { metrics: { valMse: 0.05 } })); // a rollback re-announces v1
    const snap = s.snapshot(NAME);
    expect(snap.champion?.version).toBe('v1');
    expect(snap.champion?.metrics).toEqual({ valMse: 0.05 });
    // The announcement's artifact URI (a file path or kafka:// topic) stays out of the view.
    expect(snap.champion).not.toHaveProperty('artifactUri');
    for (const v of snap.versions) expect(v).not.toHaveProperty('artifactUri');
    expect(snap.versions.map((v) => [v.version, v.champion, v.announced, v.inStore])).toEqual([
      ['v1', true, true, false],
      ['v2', false, true, false],
    ]);
    expect(s.snapshot('other')).toEqual({ name: 'other', champion: null, versions: [] });
  });

  it('merges the store: its champion when the topic has none, the topic champion otherwise', () => {
    const s = createModelsState();
    const storeInfo = { ...ann('v0', 50), codeVersion: 'store' };
    const { name: _n, artifactUri: _u, ...v0 } = storeInfo;
    s.setStore(NAME, { champion: 'v0', versions: new Map([['v0', v0]]) });
    expect(s.snapshot(NAME).champion?.codeVersion).toBe('store');
    s.announce(ann('v1', 100));
    const snap = s.snapshot(NAME);
    expect(snap.champion?.version).toBe('v1');
    expect(snap.versions.map((v) => [v.version, v.champion, v.announced, v.inStore])).toEqual([
      ['v0', false, false, true],
      ['v1', true, true, false],
    ]);
  });
});

describe('readStoreView', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bp-models-view-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function put(version: string, m: unknown): Promise<void> {
    await mkdir(join(dir, NAME, version), { recursive: true });
    await writeFile(join(dir, NAME, version, 'meta.json'), JSON.stringify(m));
  }

  it('a missing store is an empty one', async () => {
    expect(await readStoreView(join(dir, 'nope'), NAME)).toEqual({ champion: null, versions: new Map() });
  });

  it('reads the champion and every version with readable meta (times in ms); broken versions are left out', async () => {
    await put('v1', meta('v1', '2024-01-01T00:00:00.000Z'));
    await put('v2', meta('v2', '2024-02-01T00:00:00.000Z'));
    await put('v3', { name: NAME }); // broken meta
    await writeFile(join(dir, NAME, 'registry.json'), JSON.stringify({ name: NAME, champion: 'v2', previous: ['v1'], events: [] }));
    const view = await readStoreView(dir, NAME);
    expect(view.champion).toBe('v2');
    expect([...view.versions.keys()]).toEqual(['v1', 'v2']);
    expect(view.versions.get('v2')).toMatchObject({
      version: 'v2',
      metrics: { valMse: 0.2, directionalAccuracy: 0.53 },
      createdAt: Date.UTC(2024, 1, 1),
      expiresAt: Date.UTC(2030, 0, 1),
    });
    // The store's file path is server-side layout: never in what the gateway serves.
    expect(view.versions.get('v2')).not.toHaveProperty('artifactUri');
    const s = createModelsState();
    s.setStore(NAME, view);
    expect(s.snapshot(NAME).champion?.version).toBe('v2');
  });

  it('an unreadable registry file is an error (the view logs it and keeps the topic)', async () => {
    await mkdir(join(dir, NAME), { recursive: true });
    await writeFile(join(dir, NAME, 'registry.json'), '{ not json');
    await expect(readStoreView(dir, NAME)).rejects.toThrow(/not a registry file/);
  });
});
