// Choosing a JVM per server. Kafka 4.x runs on Java 17+, but Apicurio Registry 3.3.x is compiled
// for Java 21 (class file 65) and dies on 17 with UnsupportedClassVersionError. Rather than
// guess from version numbers, the requirement is read from the class files of the unpacked jar,
// and the JVM is picked among `java` on PATH, JAVA_HOME and the usual JDK folders.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { BitPredictError } from '../../core/errors.js';
import { parseJavaMajor, runSync } from './proc.js';

const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;
const CLASS_MAGIC = 0xcafebabe;
// Java major = class-file major - 44 (Java 17 -> 61, Java 21 -> 65).
const CLASS_VERSION_OFFSET = 44;

/**
 * Java version a jar's classes need: the highest class-file version among its first `sample`
 * top-level classes (multi-release folders and module-info excluded). Null when the buffer is not
 * a readable zip or holds no class. Pure: takes the jar's bytes.
 */
export function requiredJavaOfJar(jar: Buffer, sample = 20): number | null {
  const min = Math.max(0, jar.length - 65_557);
  let eocd = -1;
  for (let i = jar.length - 22; i >= min; i--) {
    if (jar.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return null;
  const count = jar.readUInt16LE(eocd + 10);
  let p = jar.readUInt32LE(eocd + 16);
  let best: number | null = null;
  let seen = 0;
  for (let n = 0; n < count && seen < sample; n++) {
    if (p + 46 > jar.length || jar.readUInt32LE(p) !== CEN_SIG) return best;
    const method = jar.readUInt16LE(p + 10);
    const compSize = jar.readUInt32LE(p + 20);
    const nameLen = jar.readUInt16LE(p + 28);
    const extraLen = jar.readUInt16LE(p + 30);
    const commentLen = jar.readUInt16LE(p + 32);
    const local = jar.readUInt32LE(p + 42);
    const name = jar.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (!name.endsWith('.class') || name.startsWith('META-INF/') || name.endsWith('module-info.class')) continue;
    if (local + 30 > jar.length || jar.readUInt32LE(local) !== LOC_SIG) continue;
    const start = local + 30 + jar.readUInt16LE(local + 26) + jar.readUInt16LE(local + 28);
    const raw = jar.subarray(start, start + compSize);
    let cls: Buffer;
    try {
      cls = method === 0 ? raw : method === 8 ? inflateRawSync(raw) : Buffer.alloc(0);
    } catch {
      continue;
    }
    if (cls.length < 8 || cls.readUInt32BE(0) !== CLASS_MAGIC) continue;
    const java = cls.readUInt16BE(6) - CLASS_VERSION_OFFSET;
    best = best === null ? java : Math.max(best, java);
    seen++;
  }
  return best;
}

/** Java version the unpacked Apicurio needs, read from app/*.jar; 17 when it cannot be told. */
export function requiredJavaOfApicurio(homeDir: string): number {
  const appDir = join(homeDir, 'app');
  const jars = existsSync(appDir) ? readdirSync(appDir).filter((f) => f.endsWith('.jar')) : [];
  let need = 17;
  for (const jar of jars) {
    const v = requiredJavaOfJar(readFileSync(join(appDir, jar)));
    if (v !== null) need = Math.max(need, v);
  }
  return need;
}

export interface JavaRuntime {
  readonly path: string;
  readonly major: number;
}

export interface JavaFinder {
  /** A JVM of at least `min`, or ERR_STACK naming what was found and what to install. */
  find(min: number, forWhat: string): JavaRuntime;
}

/** Well-known JDK folders: Debian/Ubuntu packages, GitHub runners' setup-java, SDKMAN. */
export function defaultJavaDirs(home: string | undefined): string[] {
  const roots = ['/usr/lib/jvm', '/opt/java', '/usr/local/sdkman/candidates/java', ...(home ? [join(home, '.sdkman', 'candidates', 'java')] : [])];
  const out: string[] = [];
  for (const root of roots) {
    if (!existsSync(root)) continue;
    for (const d of readdirSync(root).sort()) out.push(join(root, d));
  }
  const toolcache = '/opt/hostedtoolcache';
  if (existsSync(toolcache)) {
    for (const dist of readdirSync(toolcache)
      .filter((d) => d.startsWith('Java_'))
      .sort()) {
      const distDir = join(toolcache, dist);
      for (const v of readdirSync(distDir).sort()) out.push(join(distDir, v, 'x64'));
    }
  }
  return out;
}

export function createJavaFinder(opts: {
  pathJava: string;
  javaHome?: string | undefined;
  jdkDirs?: readonly string[];
  probe?: (java: string) => number | null;
}): JavaFinder {
  const probe =
    opts.probe ??
    ((java: string): number | null => {
      const r = runSync(java, ['-version'], { timeoutMs: 30_000 });
      return r.missing || r.status !== 0 ? null : parseJavaMajor(r.output);
    });
  const cache = new Map<string, number | null>();
  const majorOf = (java: string): number | null => {
    if (!cache.has(java)) cache.set(java, probe(java));
    return cache.get(java) ?? null;
  };
  const candidates = (): string[] => {
    const list = [opts.pathJava];
    if (opts.javaHome) list.push(join(opts.javaHome, 'bin', 'java'));
    for (const d of opts.jdkDirs ?? []) list.push(join(d, 'bin', 'java'));
    return [...new Set(list)];
  };
  return {
    find(min, forWhat) {
      const found: JavaRuntime[] = [];
      for (const path of candidates()) {
        const major = majorOf(path);
        if (major !== null) found.push({ path, major });
      }
      // `java` on PATH wins when it is new enough; otherwise the oldest JDK that is.
      const first = found[0];
      if (first && first.path === opts.pathJava && first.major >= min) return first;
      const fit = found.filter((j) => j.major >= min).sort((a, b) => a.major - b.major)[0];
      if (fit) return fit;
      if (found.length === 0) {
        throw new BitPredictError(
          'ERR_STACK',
          `java was not found on PATH: install a JDK ${min} or newer (for example apt-get install openjdk-${min}-jdk-headless, or Temurin ${min}) and retry`,
        );
      }
      const seen = found.map((j) => `${j.major} (${j.path})`).join(', ');
      throw new BitPredictError(
        'ERR_STACK',
        `${forWhat} needs Java ${min} or newer, but only Java ${seen} was found; install a JDK ${min}+ and put it on PATH or in JAVA_HOME`,
      );
    },
  };
}
