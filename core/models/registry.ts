// The model registry: artifacts live in the model store folder (<store>/<name>/<version>/, see
// core/models/artifact.ts) and <store>/<name>/registry.json records the champion and every
// promotion or rollback. Each new champion's bytes go to the `model-artifacts` topic and it is
// announced on the compacted `models` topic (key = model name), which the predictor follows.
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BitPredictError } from '../errors.js';
import type { Platform } from '../runtime.js';
import { createProducer } from '../kafka/producer.js';
import type { ModelAnnouncement } from '../../schemas/types.js';
import { META_FILE, artifactDir, validateMeta, type ArtifactMeta } from './artifact.js';
import { publishArtifact, readArtifactDir } from './kafka-artifact.js';
import { artifactDigest, signAnnouncement, type ModelSigning } from './signing.js';

export interface RegistryEvent {
  at: string;
  action: 'promote' | 'rollback' | 'reject';
  version: string;
  reason: string;
}

export interface RegistryState {
  name: string;
  champion: string | null;
  /** earlier champions, most recent last (rollback pops it) */
  previous: string[];
  events: RegistryEvent[];
}

function registryFile(storeDir: string, name: string): string {
  return join(resolve(storeDir), name, 'registry.json');
}

export async function readRegistry(storeDir: string, name: string): Promise<RegistryState> {
  const file = registryFile(storeDir, name);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { name, champion: null, previous: [], events: [] };
    throw new BitPredictError('ERR_VALIDATION', `${file}: unreadable (${String(err)})`, { cause: err });
  }
  try {
    const s = JSON.parse(text) as RegistryState;
    if (s.name !== name || !Array.isArray(s.previous) || !Array.isArray(s.events) || (s.champion !== null && typeof s.champion !== 'string'))
      throw new Error('unexpected shape');
    return s;
  } catch (err) {
    throw new BitPredictError('ERR_VALIDATION', `${file}: not a registry file (${String(err)})`, { cause: err });
  }
}

async function writeRegistry(storeDir: string, s: RegistryState): Promise<void> {
  const file = registryFile(storeDir, s.name);
  await mkdir(resolve(file, '..'), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(s, null, 2)}\n`);
  await rename(tmp, file);
}

export async function readMeta(storeDir: string, name: string, version: string): Promise<ArtifactMeta> {
  const file = join(resolve(storeDir), name, version, META_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new BitPredictError('ERR_NOT_FOUND', `model ${name}/${version} is not in the store (${file} missing)`);
  }
  return validateMeta(JSON.parse(text) as unknown, file);
}

/** Every version in the store, oldest first, with its meta (unreadable folders are reported, not skipped silently). */
export async function listVersions(storeDir: string, name: string): Promise<{ version: string; meta: ArtifactMeta | null; problem?: string }[]> {
  let entries: string[];
  try {
    entries = await readdir(join(resolve(storeDir), name));
  } catch {
    return [];
  }
  const out: { version: string; meta: ArtifactMeta | null; problem?: string }[] = [];
  for (const v of entries.sort()) {
    if (v.startsWith('.') || v === 'registry.json') continue;
    try {
      out.push({ version: v, meta: await readMeta(storeDir, name, v) });
    } catch (err) {
      out.push({ version: v, meta: null, problem: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

/**
 * The version a name stands for: "champion" (the registry's), "latest" (the newest createdAt among
 * readable versions) or a version itself. Unknown: ERR_NOT_FOUND listing the known versions.
 */
export async function resolveVersion(store: string, name: string, wanted: string): Promise<string> {
  const versions = await listVersions(store, name);
  const known = versions.length === 0 ? 'none (train one with bitpredict train)' : versions.map((v) => v.version).join(', ');
  if (wanted === 'champion') {
    const { champion } = await readRegistry(store, name);
    if (champion === null) throw new BitPredictError('ERR_NOT_FOUND', `model ${name} has no champion yet; known versions: ${known}`);
    return champion;
  }
  if (wanted === 'latest') {
    const readable = versions.filter((v) => v.meta !== null);
    if (readable.length === 0) throw new BitPredictError('ERR_NOT_FOUND', `model ${name} has no readable version in ${store}; known versions: ${known}`);
    // Sorted by name already (versions are creation times); createdAt decides for hand-named ones.
    return readable.reduce((a, b) => (Date.parse(b.meta!.createdAt) >= Date.parse(a.meta!.createdAt) ? b : a)).version;
  }
  if (!versions.some((v) => v.version === wanted))
    throw new BitPredictError('ERR_NOT_FOUND', `model ${name} has no version "${wanted}"; known versions: ${known}`);
  return wanted;
}

/** The announcement of an artifact; its URI is the store folder unless given (kafka://, from publishArtifact). */
export function announcementOf(
  meta: ArtifactMeta,
  storeDir: string,
  artifactUri = `file://${join(resolve(storeDir), meta.name, meta.version)}`,
): ModelAnnouncement {
  return {
    name: meta.name,
    version: meta.version,
    artifactUri,
    featureSetVersion: meta.featureSetVersion,
    trainedFrom: meta.trainedFrom,
    trainedTo: meta.trainedTo,
    metrics: meta.metrics,
    backend: meta.backend,
    codeVersion: meta.codeVersion,
    createdAt: Date.parse(meta.createdAt),
    expiresAt: meta.expiresAt === null ? null : Date.parse(meta.expiresAt),
  };
}

/**
 * Publishes the champion: first its artifact bytes on the model-artifacts topic (every chunk
 * acknowledged), then the announcement `kafka://model-artifacts/<name>/<version>` on the compacted
 * models topic (key = model name), so predictors load it from Kafka alone and never see an
 * announcement whose bytes are not all there. A rollback re-publishes the same bytes under the
 * same keys, which compaction folds into one copy.
 */
export async function announce(platform: Platform, meta: ArtifactMeta, storeDir: string, chunkBytes: number, signing: ModelSigning): Promise<void> {
  const { uri, sha256 } = await publishArtifact(platform, artifactDir(storeDir, meta.name, meta.version), meta, chunkBytes);
  await sendAnnouncement(platform, announcementOf(meta, storeDir, uri), { signing, artifactSha256: sha256 });
}

/**
 * Sends one announcement (no artifact bytes: announce() is the way to publish a model), signed
 * with the signing key over the artifact digest given (core/models/signing.ts); unsigned when
 * signing is off. A file:// announcement without a digest gets the digest of its folder's files.
 */
export async function sendAnnouncement(
  platform: Platform,
  a: ModelAnnouncement,
  opts: { signing: ModelSigning; artifactSha256?: string; signedAt?: number },
): Promise<void> {
  const topic = platform.kafka.topic('models');
  let headers: Record<string, string> | undefined;
  const key = opts.signing.signer;
  if (key !== null) {
    let digest = opts.artifactSha256;
    if (digest === undefined) {
      if (!a.artifactUri.startsWith('file://'))
        throw new BitPredictError('ERR_VALIDATION', `cannot sign the announcement of ${a.artifactUri} without the digest of its artifact`);
      digest = artifactDigest(await readArtifactDir(a.artifactUri.slice('file://'.length)));
    }
    headers = signAnnouncement(a, key, { topic, signedAt: opts.signedAt ?? Date.now(), artifactSha256: digest });
  }
  const producer = await createProducer(platform.kafka);
  try {
    await producer.send([{ topic, key: a.name, value: platform.serde.encode('models', a), ...(headers ? { headers } : {}) }]);
  } finally {
    await producer.close();
  }
}

export async function recordPromotion(storeDir: string, name: string, version: string, reason: string, now = new Date()): Promise<RegistryState> {
  await readMeta(storeDir, name, version);
  const s = await readRegistry(storeDir, name);
  if (s.champion !== null && s.champion !== version) s.previous.push(s.champion);
  s.champion = version;
  s.events.push({ at: now.toISOString(), action: 'promote', version, reason });
  await writeRegistry(storeDir, s);
  return s;
}

export async function recordRejection(storeDir: string, name: string, version: string, reason: string, now = new Date()): Promise<void> {
  const s = await readRegistry(storeDir, name);
  s.events.push({ at: now.toISOString(), action: 'reject', version, reason });
  await writeRegistry(storeDir, s);
}

export async function rollback(storeDir: string, name: string, now = new Date()): Promise<RegistryState> {
  const s = await readRegistry(storeDir, name);
  const back = s.previous.pop();
  if (back === undefined) throw new BitPredictError('ERR_VALIDATION', `model ${name} has no earlier champion to roll back to`);
  await readMeta(storeDir, name, back);
  const from = s.champion;
  s.champion = back;
  s.events.push({ at: now.toISOString(), action: 'rollback', version: back, reason: `rolled back from ${from ?? 'none'}` });
  await writeRegistry(storeDir, s);
  return s;
}
