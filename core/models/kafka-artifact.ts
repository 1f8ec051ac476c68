// Model artifacts carried by Kafka, so predictors need no shared volume: the trainer's publish code
// splits each file of an artifact folder (meta.json, model.json, weights.bin) into chunks on the
// compacted `model-artifacts` topic, then announces `kafka://model-artifacts/<name>/<version>` on
// `models`; a predictor reads that version's chunks back, checks them and loads the files from
// memory with the same checks as a folder (core/models/artifact.ts loadArtifactFrom).
//
// Record layout (no schema registry: the value is opaque bytes, the metadata is in headers):
//   key      `<name>/<version>/<file>/<index>` (one key per chunk, so compaction keeps every
//            chunk of every version; re-publishing a version rewrites identical records)
//   value    the chunk bytes (bytes [index * chunkBytes, (index + 1) * chunkBytes) of the file)
//   headers  bitpredict-artifact-{name, version, file, chunk, chunks, size, sha256}: the chunk
//            index, the file's chunk count, byte size and the SHA-256 (hex) of the whole file.
//
// Ordering: every chunk is acknowledged (acks=all) before the announcement is sent, so a reader
// that sees the announcement finds all the bytes below the topic's end at that moment. Chunks go
// out one record per send: a batch of several chunks could pass the broker's max.message.bytes,
// which bounds a whole record batch. Nothing writes tombstones to this topic, so the record just
// before the end always survives compaction and a reader of [start, end) always reaches the end.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BitPredictError } from '../errors.js';
import type { Platform } from '../runtime.js';
import type { KafkaClient } from '../kafka/client.js';
import { createAdmin } from '../kafka/client.js';
import { createProducer } from '../kafka/producer.js';
import { readRange } from '../kafka/range.js';
import type { InRecord, OutRecord } from '../kafka/records.js';
import { ARTIFACTS_TOPIC } from '../kafka/topics.js';
import { META_FILE, MODEL_FILE, WEIGHTS_FILE } from './artifact.js';
import { artifactDigest } from './signing.js';

/** The files of an artifact, in the order they are published. */
export const ARTIFACT_FILES = [META_FILE, MODEL_FILE, WEIGHTS_FILE] as const;

export const CHUNK_HEADERS = {
  name: 'bitpredict-artifact-name',
  version: 'bitpredict-artifact-version',
  file: 'bitpredict-artifact-file',
  chunk: 'bitpredict-artifact-chunk',
  chunks: 'bitpredict-artifact-chunks',
  size: 'bitpredict-artifact-size',
  sha256: 'bitpredict-artifact-sha256',
} as const;

const SCHEME = 'kafka://';
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

/** The model-artifacts topic of a client (with its environment prefix). */
export function artifactsTopic(client: Pick<KafkaClient, 'topicPrefix'>): string {
  return client.topicPrefix + ARTIFACTS_TOPIC;
}

export function artifactUri(topic: string, name: string, version: string): string {
  return `${SCHEME}${topic}/${name}/${version}`;
}

/** `kafka://<topic>/<name>/<version>` -> its parts; null when the URI is not one. */
export function parseArtifactUri(uri: string): { topic: string; name: string; version: string } | null {
  if (!uri.startsWith(SCHEME)) return null;
  const parts = uri.slice(SCHEME.length).split('/');
  if (parts.length !== 3) return null;
  const [topic, name, version] = parts as [string, string, string];
  if (!TOPIC.test(topic) || !SEGMENT.test(name) || !SEGMENT.test(version)) return null;
  return { topic, name, version };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The chunk records of one artifact version, files in ARTIFACT_FILES order, chunks in index order. */
export function chunkRecords(topic: string, name: string, version: string, files: ReadonlyMap<string, Buffer>, chunkBytes: number): OutRecord[] {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1)
    throw new BitPredictError('ERR_VALIDATION', `artifact chunk size must be a positive integer, got ${chunkBytes}`);
  const out: OutRecord[] = [];
  for (const file of ARTIFACT_FILES) {
    const bytes = files.get(file);
    if (bytes === undefined) throw new BitPredictError('ERR_VALIDATION', `artifact ${name}/${version} has no ${file}`, { details: { file } });
    // An empty file is still one (empty) chunk, so a reader can tell it from a missing one.
    const count = Math.max(1, Math.ceil(bytes.byteLength / chunkBytes));
    const hash = sha256(bytes);
    for (let i = 0; i < count; i++) {
      out.push({
        topic,
        key: `${name}/${version}/${file}/${i}`,
        value: bytes.subarray(i * chunkBytes, Math.min(bytes.byteLength, (i + 1) * chunkBytes)),
        headers: {
          [CHUNK_HEADERS.name]: name,
          [CHUNK_HEADERS.version]: version,
          [CHUNK_HEADERS.file]: file,
          [CHUNK_HEADERS.chunk]: String(i),
          [CHUNK_HEADERS.chunks]: String(count),
          [CHUNK_HEADERS.size]: String(bytes.byteLength),
          [CHUNK_HEADERS.sha256]: hash,
        },
      });
    }
  }
  return out;
}

/**
 * Publishes the artifact folder `dir` (meta `name`/`version`) on the model-artifacts topic and
 * returns its kafka:// URI and the digest of the bytes published (what the announcement signs).
 * Resolves only when every chunk is acknowledged, so the announcement that follows can never point
 * at bytes that are not in Kafka.
 */
export async function publishArtifact(
  platform: Platform,
  dir: string,
  id: { name: string; version: string },
  chunkBytes: number,
): Promise<{ uri: string; sha256: string }> {
  const files = new Map<string, Buffer>();
  for (const file of ARTIFACT_FILES) {
    try {
      files.set(file, await readFile(join(dir, file)));
    } catch (err) {
      throw new BitPredictError('ERR_VALIDATION', `${join(dir, file)}: cannot publish the artifact, the file is unreadable (${String(err)})`, {
        cause: err,
        details: { file: join(dir, file) },
      });
    }
  }
  const topic = artifactsTopic(platform.kafka);
  const records = chunkRecords(topic, id.name, id.version, files, chunkBytes);
  const producer = await createProducer(platform.kafka);
  try {
    for (const r of records) await producer.send([r]);
  } finally {
    await producer.close();
  }
  return { uri: artifactUri(topic, id.name, id.version), sha256: artifactDigest(files) };
}

/** The files of an artifact folder, read once (their digest and their load use the same bytes). */
export async function readArtifactDir(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const file of ARTIFACT_FILES) {
    try {
      files.set(file, await readFile(join(dir, file)));
    } catch (err) {
      throw new BitPredictError('ERR_VALIDATION', `${join(dir, file)}: the artifact file is unreadable (${String(err)})`, {
        cause: err,
        details: { file: join(dir, file) },
      });
    }
  }
  return files;
}

interface FileChunks {
  count: number;
  size: number;
  sha256: string;
  chunks: Map<number, Buffer>;
  received: number;
}

export interface ChunkAssembler {
  /** One record of the topic; records of other versions are ignored. Throws on a bad chunk of this version. */
  add(record: Pick<InRecord, 'key' | 'value' | 'headers' | 'offset'>): void;
  /** The checked files; throws when anything is missing, truncated or does not match its hash. */
  finish(): Map<string, Buffer>;
}

/**
 * Collects the chunks of one version from the records of the topic in offset order, whatever the
 * compaction state: a chunk seen twice with the same bytes (a re-publish before compaction) is
 * fine, one seen twice with other bytes or other file facts is refused; a tombstone removes its
 * chunk. Every error is ERR_VALIDATION naming `<uri>/<file>`, except "no bytes at all" which is
 * ERR_NOT_FOUND (the announcement came without its artifact).
 */
export function createChunkAssembler(opts: { uri: string; name: string; version: string; maxBytes: number }): ChunkAssembler {
  const { uri, name, version, maxBytes } = opts;
  const prefix = `${name}/${version}/`;
  const files = new Map<string, FileChunks>();
  const bad = (file: string, message: string): BitPredictError =>
    new BitPredictError('ERR_VALIDATION', `${uri}/${file}: ${message}`, { details: { file: `${uri}/${file}` } });
  const header = (r: Pick<InRecord, 'headers'>, h: string): string | undefined => r.headers[h]?.toString('utf8');
  const int = (v: string | undefined): number | null => (v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : null);

  return {
    add(r) {
      const key = r.key?.toString('utf8') ?? '';
      if (!key.startsWith(prefix)) return;
      const rest = key.slice(prefix.length).split('/');
      const file = rest[0] ?? '';
      const keyIndex = int(rest[1]);
      if (rest.length !== 2 || !(ARTIFACT_FILES as readonly string[]).includes(file) || keyIndex === null)
        throw bad(file || '(key)', `record key ${JSON.stringify(key)} at offset ${r.offset} is not <name>/<version>/<file>/<index> of a known file`);
      if (r.value === null) {
        // A tombstone: compaction will drop this chunk, so it counts as gone already.
        const f = files.get(file);
        if (f) {
          const old = f.chunks.get(keyIndex);
          if (old) f.received -= old.byteLength;
          f.chunks.delete(keyIndex);
        }
        return;
      }
      const index = int(header(r, CHUNK_HEADERS.chunk));
      const count = int(header(r, CHUNK_HEADERS.chunks));
      const size = int(header(r, CHUNK_HEADERS.size));
      const hash = header(r, CHUNK_HEADERS.sha256) ?? '';
      const where = `chunk ${keyIndex} (offset ${r.offset})`;
      if (header(r, CHUNK_HEADERS.name) !== name || header(r, CHUNK_HEADERS.version) !== version || header(r, CHUNK_HEADERS.file) !== file)
        throw bad(
          file,
          `${where} is labelled ${header(r, CHUNK_HEADERS.name) ?? '?'}/${header(r, CHUNK_HEADERS.version) ?? '?'}/${header(r, CHUNK_HEADERS.file) ?? '?'}, its key says ${name}/${version}/${file}`,
        );
      if (index !== keyIndex || count === null || count < 1 || index >= count)
        throw bad(
          file,
          `${where} has chunk header ${JSON.stringify(header(r, CHUNK_HEADERS.chunk))} of ${JSON.stringify(header(r, CHUNK_HEADERS.chunks))}, not an index below the chunk count`,
        );
      if (size === null) throw bad(file, `${where} has no valid size header (${JSON.stringify(header(r, CHUNK_HEADERS.size))})`);
      if (size > maxBytes) throw bad(file, `is ${size} bytes, more than BITPREDICT_MODEL_ARTIFACT_MAX_BYTES (${maxBytes}); refused before reading it`);
      if (!/^[0-9a-f]{64}$/.test(hash)) throw bad(file, `${where} has no valid sha256 header (${JSON.stringify(hash)})`);
      let f = files.get(file);
      if (f === undefined) {
        f = { count, size, sha256: hash, chunks: new Map(), received: 0 };
        files.set(file, f);
      } else if (f.count !== count || f.size !== size || f.sha256 !== hash) {
        // Two different files under one immutable version: never pick one silently.
        throw bad(
          file,
          `${where} says ${count} chunks, ${size} bytes, sha256 ${hash}, but earlier chunks said ${f.count} chunks, ${f.size} bytes, sha256 ${f.sha256}`,
        );
      }
      const prev = f.chunks.get(index);
      if (prev !== undefined) {
        if (!prev.equals(r.value)) throw bad(file, `${where} is duplicated with different bytes`);
        return;
      }
      if (f.received + r.value.byteLength > size) throw bad(file, `${where} brings the file past its declared size of ${size} bytes`);
      f.chunks.set(index, r.value);
      f.received += r.value.byteLength;
    },
    finish() {
      if (files.size === 0 || [...files.values()].every((f) => f.chunks.size === 0))
        throw new BitPredictError(
          'ERR_NOT_FOUND',
          `${uri}: no artifact bytes for ${name}/${version} in the topic (announced but never published, or deleted)`,
          {
            details: { file: uri },
          },
        );
      const out = new Map<string, Buffer>();
      for (const file of ARTIFACT_FILES) {
        const f = files.get(file);
        if (f === undefined || f.chunks.size === 0) throw bad(file, 'missing: no chunk of this file in the topic');
        const missing: number[] = [];
        for (let i = 0; i < f.count; i++) if (!f.chunks.has(i)) missing.push(i);
        if (missing.length > 0) throw bad(file, `missing chunk${missing.length > 1 ? 's' : ''} ${missing.slice(0, 10).join(', ')} of ${f.count}`);
        const bytes = Buffer.concat([...Array(f.count).keys()].map((i) => f.chunks.get(i) as Buffer));
        if (bytes.byteLength !== f.size) throw bad(file, `truncated: ${bytes.byteLength} bytes in ${f.count} chunks, the file has ${f.size}`);
        const got = sha256(bytes);
        if (got !== f.sha256) throw bad(file, `sha256 ${got} of the ${bytes.byteLength} bytes read does not match the published ${f.sha256}`);
        out.set(file, bytes);
      }
      return out;
    },
  };
}

export interface ReadArtifactOptions {
  maxBytes: number;
  /** Longest time for the whole read (ms). */
  timeoutMs: number;
  /** Consumer group name stem; each partition read gets a group of its own under it. */
  groupId: string;
}

/**
 * Reads the files of one artifact version from the topic of its kafka:// URI: every partition from
 * its start to the end it has now (the announcement was sent after all its chunks, so they lie
 * below that end), through a throwaway group that never commits.
 */
export async function readArtifactFiles(client: KafkaClient, uri: string, opts: ReadArtifactOptions): Promise<Map<string, Buffer>> {
  const parsed = parseArtifactUri(uri);
  if (parsed === null) throw new BitPredictError('ERR_VALIDATION', `${JSON.stringify(uri)} is not kafka://<topic>/<name>/<version>`);
  const { topic, name, version } = parsed;
  const deadline = Date.now() + opts.timeoutMs;
  let ends: { partition: number; offset: string }[];
  try {
    const admin = await createAdmin(client);
    try {
      ends = await admin.endOffsets(topic);
    } finally {
      await admin.close();
    }
  } catch (err) {
    // A missing topic (never created: run `bitpredict topics create`) or an unreachable cluster:
    // the bytes are not readable now, which a later announcement may fix.
    throw new BitPredictError('ERR_KAFKA_RETRIABLE', `${uri}: cannot read the end of topic ${topic} (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
  const asm = createChunkAssembler({ uri, name, version, maxBytes: opts.maxBytes });
  for (const { partition, offset } of ends) {
    const end = BigInt(offset);
    if (end === 0n) continue;
    const left = deadline - Date.now();
    if (left <= 0)
      throw new BitPredictError(
        'ERR_KAFKA_RETRIABLE',
        `${uri}: reading ${topic} did not finish within ${opts.timeoutMs} ms (BITPREDICT_MODEL_ARTIFACT_LOAD_TIMEOUT_MS)`,
      );
    try {
      await readRange(client, topic, partition, 0n, end, (rec) => asm.add(rec), { timeoutMs: left, groupId: `${opts.groupId}-${partition}` });
    } catch (err) {
      if (err instanceof BitPredictError && (err.code === 'ERR_VALIDATION' || err.code === 'ERR_NOT_FOUND')) throw err;
      throw new BitPredictError(
        'ERR_KAFKA_RETRIABLE',
        `${uri}: reading ${topic}[${partition}] up to offset ${end} failed or took longer than ${opts.timeoutMs} ms (BITPREDICT_MODEL_ARTIFACT_LOAD_TIMEOUT_MS): ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }
  return asm.finish();
}
