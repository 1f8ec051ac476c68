// The chunk format of the model-artifacts topic without Kafka: records made by chunkRecords are
// read back by the assembler whatever their order of duplicates, and every damaged input (a lost,
// altered, duplicated-with-other-bytes, oversized or mislabelled chunk, a wrong hash, no bytes at
// all) is refused with ERR_VALIDATION / ERR_NOT_FOUND naming the file, never a crash.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../errors.js';
import type { InRecord, OutRecord } from '../kafka/records.js';
import { ARTIFACT_FILES, CHUNK_HEADERS, artifactUri, chunkRecords, createChunkAssembler, parseArtifactUri } from './kafka-artifact.js';

const TOPIC = 'model-artifacts';
const URI = artifactUri(TOPIC, 'lstm', 'v1');
const files = new Map<string, Buffer>([
  ['meta.json', Buffer.from('{"name":"lstm","version":"v1"}')],
  ['model.json', Buffer.from(JSON.stringify({ modelTopology: { layers: Array.from({ length: 40 }, (_, i) => `layer-${i}`) } }))],
  ['weights.bin', randomBytes(2500)],
]);

function asIn(records: OutRecord[]): InRecord[] {
  return records.map((r, i) => ({
    topic: r.topic,
    partition: 0,
    offset: String(i),
    key: r.key === null ? null : Buffer.from(r.key),
    value: r.value,
    timestamp: 0,
    headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
  }));
}

function assemble(records: InRecord[], maxBytes = 1 << 20): Map<string, Buffer> {
  const asm = createChunkAssembler({ uri: URI, name: 'lstm', version: 'v1', maxBytes });
  for (const r of records) asm.add(r);
  return asm.finish();
}

function fails(records: InRecord[], code: string, message: RegExp, maxBytes?: number): void {
  let caught: unknown;
  try {
    assemble(records, maxBytes);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BitPredictError);
  expect((caught as BitPredictError).code).toBe(code);
  expect((caught as Error).message).toMatch(message);
}

const chunks = (): InRecord[] => asIn(chunkRecords(TOPIC, 'lstm', 'v1', files, 1024));
const weightChunk = (rs: InRecord[], i: number): InRecord => rs.find((r) => r.key?.toString() === `lstm/v1/weights.bin/${i}`) as InRecord;

describe('model-artifacts chunks', () => {
  it('splits each file into chunks of at most the chunk size, keyed per chunk, and reads them back byte for byte', () => {
    const out = chunkRecords(TOPIC, 'lstm', 'v1', files, 1024);
    expect(out.filter((r) => r.headers?.[CHUNK_HEADERS.file] === 'weights.bin').map((r) => r.key)).toEqual([
      'lstm/v1/weights.bin/0',
      'lstm/v1/weights.bin/1',
      'lstm/v1/weights.bin/2',
    ]);
    expect(out.every((r) => (r.value?.byteLength ?? 0) <= 1024)).toBe(true);
    const back = assemble(asIn(out));
    for (const f of ARTIFACT_FILES) expect(back.get(f)?.equals(files.get(f) as Buffer)).toBe(true);
  });

  it('an empty file is one empty chunk, not a missing file', () => {
    const withEmpty = new Map(files).set('weights.bin', Buffer.alloc(0));
    const back = assemble(asIn(chunkRecords(TOPIC, 'lstm', 'v1', withEmpty, 1024)));
    expect(back.get('weights.bin')?.byteLength).toBe(0);
  });

  it('ignores other versions and models, reads chunks in any order, and accepts a re-published identical copy', () => {
    const other = asIn(chunkRecords(TOPIC, 'lstm', 'v10', files, 700));
    const rs = chunks();
    const mixed = [...other, ...[...rs].reverse(), ...rs];
    const back = assemble(mixed);
    expect(back.get('weights.bin')?.equals(files.get('weights.bin') as Buffer)).toBe(true);
  });

  it('refuses a missing chunk, naming the file and the chunk', () => {
    const rs = chunks().filter((r) => r.key?.toString() !== 'lstm/v1/weights.bin/1');
    fails(rs, 'ERR_VALIDATION', /kafka:\/\/model-artifacts\/lstm\/v1\/weights\.bin: missing chunk 1 of 3/);
  });

  it('refuses a file without any chunk, and no bytes at all with ERR_NOT_FOUND', () => {
    fails(
      chunks().filter((r) => !r.key?.toString().startsWith('lstm/v1/model.json/')),
      'ERR_VALIDATION',
      /model\.json: missing/,
    );
    fails(asIn(chunkRecords(TOPIC, 'lstm', 'v2', files, 1024)), 'ERR_NOT_FOUND', /no artifact bytes for lstm\/v1/);
    fails([], 'ERR_NOT_FOUND', /no artifact bytes/);
  });

  it('refuses a corrupted chunk by the hash of the whole file', () => {
    const rs = chunks();
    const c = weightChunk(rs, 1);
    c.value = Buffer.from(c.value as Buffer);
    c.value[10] = (c.value[10] ?? 0) ^ 0xff;
    fails(rs, 'ERR_VALIDATION', /weights\.bin: sha256 [0-9a-f]{64} of the 2500 bytes read does not match the published/);
  });

  it('refuses a wrong or malformed hash header', () => {
    const rs = chunks().map((r) =>
      r.key?.toString().startsWith('lstm/v1/meta.json/') ? { ...r, headers: { ...r.headers, [CHUNK_HEADERS.sha256]: Buffer.from('0'.repeat(64)) } } : r,
    );
    fails(rs, 'ERR_VALIDATION', /meta\.json: sha256 .* does not match the published 0{64}/);
    const bad = chunks();
    weightChunk(bad, 0).headers[CHUNK_HEADERS.sha256] = Buffer.from('not-a-hash');
    fails(bad, 'ERR_VALIDATION', /weights\.bin: chunk 0 .* no valid sha256 header/);
  });

  it('refuses a chunk duplicated with other bytes, and chunks that disagree on the file', () => {
    const rs = chunks();
    const c = weightChunk(rs, 2);
    fails(
      [...rs, { ...c, offset: '99', value: Buffer.alloc(c.value?.byteLength ?? 0) }],
      'ERR_VALIDATION',
      /weights\.bin: chunk 2 \(offset 99\) is duplicated with different bytes/,
    );
    const other = chunks();
    weightChunk(other, 1).headers[CHUNK_HEADERS.size] = Buffer.from('2600');
    fails(other, 'ERR_VALIDATION', /weights\.bin: chunk 1 .* 2600 bytes.*earlier chunks said 3 chunks, 2500 bytes/);
  });

  it('refuses a truncated file and chunks past the declared size', () => {
    const rs = chunks();
    const last = weightChunk(rs, 2);
    last.value = (last.value as Buffer).subarray(0, 10);
    fails(rs, 'ERR_VALIDATION', /weights\.bin: truncated: 2058 bytes in 3 chunks, the file has 2500/);
    const long = chunks();
    const first = weightChunk(long, 0);
    first.value = Buffer.concat([first.value as Buffer, Buffer.alloc(2000)]);
    fails(long, 'ERR_VALIDATION', /weights\.bin: chunk 0 .* past its declared size of 2500 bytes/);
  });

  it('refuses a file over the size limit before collecting it', () => {
    fails(chunks(), 'ERR_VALIDATION', /weights\.bin: is 2500 bytes, more than BITPREDICT_MODEL_ARTIFACT_MAX_BYTES \(2000\)/, 2000);
  });

  it('refuses mislabelled chunks: headers of another version, an index beyond the count, a malformed key', () => {
    const rs = chunks();
    weightChunk(rs, 0).headers[CHUNK_HEADERS.version] = Buffer.from('v0');
    fails(rs, 'ERR_VALIDATION', /chunk 0 .* is labelled lstm\/v0\/weights\.bin, its key says lstm\/v1\/weights\.bin/);
    const beyond = chunks();
    weightChunk(beyond, 2).headers[CHUNK_HEADERS.chunks] = Buffer.from('2');
    fails(beyond, 'ERR_VALIDATION', /chunk 2 .* not an index below the chunk count/);
    const key = chunks();
    key.push({ ...(key[0] as InRecord), key: Buffer.from('lstm/v1/evil.sh/0') });
    fails(key, 'ERR_VALIDATION', /record key "lstm\/v1\/evil\.sh\/0" .* is not <name>\/<version>\/<file>\/<index>/);
  });

  it('a tombstone removes its chunk', () => {
    const rs = chunks();
    rs.push({ ...weightChunk(rs, 1), value: null, offset: '100' });
    fails(rs, 'ERR_VALIDATION', /weights\.bin: missing chunk 1 of 3/);
  });

  it('parses only well-formed kafka:// URIs', () => {
    expect(parseArtifactUri('kafka://t.x.model-artifacts/lstm-attention/20240101-1')).toEqual({
      topic: 't.x.model-artifacts',
      name: 'lstm-attention',
      version: '20240101-1',
    });
    for (const bad of ['file:///m/v1', 'kafka://t/lstm', 'kafka://t/lstm/v1/extra', 'kafka://t/../v1', 'kafka:///lstm/v1', 'kafka://t/lstm/.v1'])
      expect(parseArtifactUri(bad), bad).toBeNull();
  });

  it('refuses to publish an artifact without all its files or with a bad chunk size', () => {
    const partial = new Map(files);
    partial.delete('model.json');
    expect(() => chunkRecords(TOPIC, 'lstm', 'v1', partial, 1024)).toThrow(/has no model\.json/);
    expect(() => chunkRecords(TOPIC, 'lstm', 'v1', files, 0)).toThrow(/chunk size must be a positive integer/);
  });
});
