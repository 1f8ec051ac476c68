// Data lineage of a model artifact: what it was trained on, so that a version can be traced back
// to the exact bytes (files) or records (topics) it saw and to the code that trained it, the way
// DVC records the data of a pipeline stage. It is stored as the optional `lineage` block of
// meta.json (core/models/artifact.ts); artifacts saved before lineage was kept have none and still
// load. Times are ms (like trainedFrom/trainedTo), offsets are decimal strings (Kafka offsets are
// int64, beyond JSON's safe integers).
//
// The shapes, their check and the text for people are pure; hashing files and asking git are the
// two I/O helpers below them, used by the entrypoints that build the lineage (cli/train.ts, the
// trainer service).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, isAbsolute, relative, resolve } from 'node:path';
import { BitPredictError } from '../errors.js';
import type { Candle, ScoredText } from '../../schemas/types.js';

/** What a source contributed: candles, texts, or feature vectors computed upstream. */
export type SourceRole = 'candles' | 'texts' | 'features';

/** The rows of a source that were used, and the first and last of their times (inclusive, ms); null times when no row was used. */
export interface RowsUsed {
  rows: number;
  firstTime: number | null;
  lastTime: number | null;
}

export interface FileSource extends RowsUsed {
  kind: 'file';
  role: SourceRole;
  /** Relative to the data folder (absolute when the file lies outside it). */
  path: string;
  bytes: number;
  sha256: string;
}

export interface PartitionRead extends RowsUsed {
  partition: number;
  /** Offsets of the first and last record used (decimal strings). */
  firstOffset: string;
  lastOffset: string;
}

export interface TopicSource {
  kind: 'topic';
  role: SourceRole;
  topic: string;
  /** One entry per partition that gave at least one record, by partition number. */
  partitions: PartitionRead[];
}

export type DataSource = FileSource | TopicSource;

export interface ArtifactLineage {
  /** git short sha of the training code, "<sha>-dirty" when tracked files differed from HEAD, "unknown" without git. */
  commit: string;
  /** The data folder file paths are relative to (absolute, as the trainer saw it); absent for topic-only lineage. */
  dataDir?: string;
  sources: DataSource[];
}

// ---------------------------------------------------------------------------------------------
// Pure: building, checking and describing.

/** Count and first/last of a list of times (any order); NaN or infinite times are refused. */
export function rowsUsed(times: Iterable<number>): RowsUsed {
  let rows = 0;
  let firstTime = Infinity;
  let lastTime = -Infinity;
  for (const t of times) {
    if (!Number.isFinite(t)) throw new BitPredictError('ERR_VALIDATION', `lineage: a row time is not a finite number (${String(t)})`);
    rows++;
    if (t < firstTime) firstTime = t;
    if (t > lastTime) lastTime = t;
  }
  return rows === 0 ? { rows, firstTime: null, lastTime: null } : { rows, firstTime, lastTime };
}

/** One record a topic reader kept. */
export interface RecordRead {
  partition: number;
  offset: bigint;
  time: number;
}

/** The per-partition offset and time ranges of the records a reader kept. */
export function topicSource(topic: string, role: SourceRole, records: Iterable<RecordRead>): TopicSource {
  const byPartition = new Map<number, { first: bigint; last: bigint; times: number[] }>();
  for (const r of records) {
    const p = byPartition.get(r.partition);
    if (p === undefined) byPartition.set(r.partition, { first: r.offset, last: r.offset, times: [r.time] });
    else {
      if (r.offset < p.first) p.first = r.offset;
      if (r.offset > p.last) p.last = r.offset;
      p.times.push(r.time);
    }
  }
  const partitions = [...byPartition.entries()]
    .sort(([a], [b]) => a - b)
    .map(([partition, p]) => ({ partition, firstOffset: p.first.toString(), lastOffset: p.last.toString(), ...rowsUsed(p.times) }));
  return { kind: 'topic', role, topic, partitions };
}

/**
 * What of the candles and texts read from files went into the features: all the candles, and the
 * texts a feature's sentiment window (t - windowMs, t] can reach, t running over the candles'
 * close times. Texts are matched to their file by the replay source name (`replay:<file name>`).
 */
export function usedFromFiles(
  candles: readonly Candle[],
  texts: readonly ScoredText[],
  textFiles: readonly string[],
  windowMs: number,
): { candles: RowsUsed; texts: Map<string, RowsUsed> } {
  const lo = candles.length > 0 ? candles[0]!.closeTime - windowMs : Infinity;
  const hi = candles.length > 0 ? candles[candles.length - 1]!.closeTime : -Infinity;
  const times = new Map<string, number[]>(textFiles.map((f) => [`replay:${basename(f)}`, []]));
  for (const t of texts) if (t.publishedAt > lo && t.publishedAt <= hi) times.get(t.source)?.push(t.publishedAt);
  return {
    candles: rowsUsed(candles.map((c) => c.openTime)),
    texts: new Map(textFiles.map((f) => [f, rowsUsed(times.get(`replay:${basename(f)}`) ?? [])])),
  };
}

const SHA256 = /^[0-9a-f]{64}$/;
const OFFSET = /^(0|[1-9][0-9]*)$/;
const ROLES: readonly string[] = ['candles', 'texts', 'features'];

/** Checks a lineage block read from meta.json; `file` names the source in messages (ERR_VALIDATION). */
export function validateLineage(v: unknown, file: string): ArtifactLineage {
  const bad = (field: string, why: string): never => {
    throw new BitPredictError('ERR_VALIDATION', `${file}: lineage${field} ${why}`, { details: { file } });
  };
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObject(v)) return bad('', 'must be an object { commit, sources }');
  if (typeof v.commit !== 'string' || v.commit === '') bad('.commit', `must be a non-empty string, got ${JSON.stringify(v.commit)}`);
  if (v.dataDir !== undefined && (typeof v.dataDir !== 'string' || v.dataDir === '')) bad('.dataDir', 'must be a non-empty string when present');
  if (!Array.isArray(v.sources)) return bad('.sources', 'must be an array');
  const checkRows = (r: Record<string, unknown>, at: string): void => {
    if (!Number.isInteger(r.rows) || (r.rows as number) < 0) bad(`${at}.rows`, `must be a whole number, got ${JSON.stringify(r.rows)}`);
    for (const k of ['firstTime', 'lastTime'] as const) {
      const t = r[k];
      if (r.rows === 0 ? t !== null : typeof t !== 'number' || !Number.isFinite(t))
        bad(`${at}.${k}`, `must be a time in ms (null without rows), got ${JSON.stringify(t)}`);
    }
    if (r.rows !== 0 && (r.firstTime as number) > (r.lastTime as number)) bad(`${at}.firstTime`, 'is after lastTime');
  };
  (v.sources as unknown[]).forEach((s, i) => {
    const at = `.sources[${i}]`;
    if (!isObject(s)) return bad(at, 'must be an object');
    if (!ROLES.includes(s.role as string)) bad(`${at}.role`, `must be one of ${ROLES.join(', ')}, got ${JSON.stringify(s.role)}`);
    if (s.kind === 'file') {
      if (typeof s.path !== 'string' || s.path === '') bad(`${at}.path`, 'must be a non-empty string');
      if (!Number.isInteger(s.bytes) || (s.bytes as number) < 0) bad(`${at}.bytes`, `must be a whole number, got ${JSON.stringify(s.bytes)}`);
      if (typeof s.sha256 !== 'string' || !SHA256.test(s.sha256)) bad(`${at}.sha256`, `must be 64 lower-case hex digits, got ${JSON.stringify(s.sha256)}`);
      return checkRows(s, at);
    }
    if (s.kind !== 'topic') return bad(`${at}.kind`, `must be file or topic, got ${JSON.stringify(s.kind)}`);
    if (typeof s.topic !== 'string' || s.topic === '') bad(`${at}.topic`, 'must be a non-empty string');
    if (!Array.isArray(s.partitions)) return bad(`${at}.partitions`, 'must be an array');
    (s.partitions as unknown[]).forEach((p, j) => {
      const pat = `${at}.partitions[${j}]`;
      if (!isObject(p)) return bad(pat, 'must be an object');
      if (!Number.isInteger(p.partition) || (p.partition as number) < 0) bad(`${pat}.partition`, `must be a whole number, got ${JSON.stringify(p.partition)}`);
      for (const k of ['firstOffset', 'lastOffset'] as const)
        if (typeof p[k] !== 'string' || !OFFSET.test(p[k])) bad(`${pat}.${k}`, `must be an offset as a decimal string, got ${JSON.stringify(p[k])}`);
      if (BigInt(p.firstOffset as string) > BigInt(p.lastOffset as string)) bad(`${pat}.firstOffset`, 'is after lastOffset');
      checkRows(p, pat);
    });
  });
  return v as unknown as ArtifactLineage;
}

const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString().replace(':00.000Z', 'Z'));
const span = (r: RowsUsed): string => `${r.rows} rows${r.rows > 0 ? `, ${iso(r.firstTime)} .. ${iso(r.lastTime)}` : ''}`;

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The lineage for people, one line per fact, indented under a "lineage" heading. */
export function describeLineage(lineage: ArtifactLineage | undefined, featureSetVersion: string): string[] {
  if (lineage === undefined) return ['lineage: not recorded (trained before lineage was kept)'];
  const out = ['lineage:', `  code commit   ${lineage.commit}`, `  feature set   ${featureSetVersion}`];
  if (lineage.dataDir !== undefined) out.push(`  data folder   ${lineage.dataDir}`);
  if (lineage.sources.length === 0) out.push('  sources       none recorded');
  for (const s of lineage.sources) {
    if (s.kind === 'file') {
      out.push(`  ${s.role.padEnd(13)} file ${s.path} (${sizeText(s.bytes)}, sha256 ${s.sha256})`);
      out.push(`  ${''.padEnd(13)}   used ${span(s)}`);
    } else {
      out.push(`  ${s.role.padEnd(13)} topic ${s.topic}${s.partitions.length === 0 ? ': no records' : ''}`);
      for (const p of s.partitions) out.push(`  ${''.padEnd(13)}   partition ${p.partition}: offsets ${p.firstOffset}..${p.lastOffset}, ${span(p)}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// I/O: file hashes and the git commit.

const hashes = new Map<string, Promise<{ bytes: number; sha256: string }>>();

/**
 * Size and SHA-256 of a file, streamed. Cached per process by path, size and mtime, so a run that
 * names a file twice hashes it once and an edited file is hashed again.
 */
export async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const abs = resolve(path);
  let st;
  try {
    st = await stat(abs);
  } catch (err) {
    throw new BitPredictError('ERR_VALIDATION', `lineage: cannot read ${abs} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  const key = `${abs}\0${st.size}\0${st.mtimeMs}`;
  let p = hashes.get(key);
  if (p === undefined) {
    p = new Promise((ok, fail) => {
      const h = createHash('sha256');
      let bytes = 0;
      createReadStream(abs)
        .on('data', (chunk: string | Buffer) => {
          // No encoding is set, so chunks are Buffers; the string case only satisfies the stream's type.
          const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          bytes += b.length;
          h.update(b);
        })
        .on('error', (err) => fail(new BitPredictError('ERR_VALIDATION', `lineage: reading ${abs} failed (${err.message})`, { cause: err })))
        .on('end', () => ok({ bytes, sha256: h.digest('hex') }));
    });
    hashes.set(key, p);
    p.catch(() => hashes.delete(key));
  }
  return p;
}

/** The lineage of one file of the data folder: path relative to it, size, SHA-256, and the rows used. */
export async function fileSource(dataDir: string, path: string, role: SourceRole, used: RowsUsed): Promise<FileSource> {
  const abs = isAbsolute(path) ? path : resolve(dataDir, path);
  const rel = relative(resolve(dataDir), abs);
  const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  return { kind: 'file', role, path: inside ? rel : abs, ...(await hashFile(abs)), ...used };
}

/**
 * The data lineage of features computed from files (the research and `train --source files`
 * path): the candle file and every text file, hashed, with the rows of each that were used.
 */
export async function filesLineage(
  dataDir: string,
  candleFile: string,
  candles: readonly Candle[],
  textFiles: readonly string[],
  texts: readonly ScoredText[],
  windowMs: number,
): Promise<Omit<ArtifactLineage, 'commit'>> {
  const used = usedFromFiles(candles, texts, textFiles, windowMs);
  const sources: DataSource[] = [await fileSource(dataDir, candleFile, 'candles', used.candles)];
  for (const f of textFiles) sources.push(await fileSource(dataDir, f, 'texts', used.texts.get(f)!));
  return { dataDir: resolve(dataDir), sources };
}

/**
 * git short sha of HEAD in `cwd`, with "-dirty" when tracked files differ from it; "unknown" when
 * git or the repository is not there (an installed image). Unlike the final-window ledger's
 * currentCommit, the sha is kept when dirty: it still says which commit the change was made on.
 */
export function codeCommit(cwd: string = process.cwd()): string {
  try {
    const git = (args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const sha = git(['rev-parse', '--short=7', 'HEAD']);
    return git(['status', '--porcelain', '--untracked-files=no']) === '' ? sha : `${sha}-dirty`;
  } catch {
    return 'unknown';
  }
}
