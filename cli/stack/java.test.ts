import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createJavaFinder, requiredJavaOfJar } from './java.js';
import { parseJavaMajor } from './proc.js';

/** Minimal class file header: magic, minor 0, major = java + 44. */
function classBytes(java: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0xcafebabe, 0);
  b.writeUInt16BE(0, 4);
  b.writeUInt16BE(java + 44, 6);
  return b;
}

/** Builds a real zip (stored or deflated entries) the way jar tools lay it out. */
function zip(entries: { name: string; data: Buffer; deflate?: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const loc = Buffer.alloc(30);
    loc.writeUInt32LE(0x04034b50, 0);
    loc.writeUInt16LE(e.deflate ? 8 : 0, 8);
    loc.writeUInt32LE(body.length, 18);
    loc.writeUInt32LE(e.data.length, 22);
    loc.writeUInt16LE(name.length, 26);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE(e.deflate ? 8 : 0, 10);
    cen.writeUInt32LE(body.length, 20);
    cen.writeUInt32LE(e.data.length, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(offset, 42);
    locals.push(loc, name, body);
    centrals.push(cen, name);
    offset += loc.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

describe('requiredJavaOfJar', () => {
  it('reads the Java version from stored and deflated classes, taking the highest', () => {
    const jar = zip([
      { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') },
      { name: 'io/apicurio/A.class', data: classBytes(17) },
      { name: 'io/apicurio/B.class', data: classBytes(21), deflate: true },
    ]);
    expect(requiredJavaOfJar(jar)).toBe(21);
  });

  it('ignores multi-release and module-info classes', () => {
    const jar = zip([
      { name: 'META-INF/versions/25/x/A.class', data: classBytes(25) },
      { name: 'module-info.class', data: classBytes(25) },
      { name: 'x/A.class', data: classBytes(17), deflate: true },
    ]);
    expect(requiredJavaOfJar(jar)).toBe(17);
  });

  it('returns null for non-zips, truncated zips, jars without classes and corrupt entries', () => {
    const good = zip([{ name: 'a/B.class', data: classBytes(21), deflate: true }]);
    expect(requiredJavaOfJar(Buffer.from('not a zip at all, just text that is long enough'))).toBeNull();
    expect(requiredJavaOfJar(Buffer.alloc(0))).toBeNull();
    expect(requiredJavaOfJar(good.subarray(0, good.length - 30))).toBeNull();
    expect(requiredJavaOfJar(zip([{ name: 'README.txt', data: Buffer.from('hi') }]))).toBeNull();
    expect(requiredJavaOfJar(zip([{ name: 'a/B.class', data: Buffer.from('no magic here') }]))).toBeNull();
    const corrupt = Buffer.from(good);
    corrupt.fill(0xff, 30 + 'a/B.class'.length, 30 + 'a/B.class'.length + 4);
    expect(requiredJavaOfJar(corrupt)).toBeNull();
  });
});

describe('parseJavaMajor', () => {
  it.each([
    ['openjdk version "17.0.15" 2025-04-15', 17],
    ['openjdk version "25.0.3" 2026-04-21 LTS', 25],
    ['java version "1.8.0_392"', 8],
    ['openjdk version "21" 2023-09-19', 21],
    ['openjdk version "21-ea" 2023-09-19', 21],
    ['bash: java: command not found', null],
    ['', null],
  ])('%j -> %j', (text, want) => {
    expect(parseJavaMajor(text)).toBe(want);
  });
});

describe('createJavaFinder', () => {
  const versions: Record<string, number> = { java: 17, '/jdk/temurin-25/bin/java': 25, '/jdk/zulu-21/bin/java': 21, '/home/jdk11/bin/java': 11 };
  const probe = (j: string): number | null => versions[j] ?? null;

  it('prefers java on PATH when it is new enough', () => {
    const f = createJavaFinder({ pathJava: 'java', jdkDirs: ['/jdk/temurin-25', '/jdk/zulu-21'], probe });
    expect(f.find(17, 'Kafka')).toEqual({ path: 'java', major: 17 });
  });

  it('otherwise takes the oldest JDK that is new enough', () => {
    const f = createJavaFinder({ pathJava: 'java', jdkDirs: ['/jdk/temurin-25', '/jdk/zulu-21'], probe });
    expect(f.find(21, 'Apicurio')).toEqual({ path: '/jdk/zulu-21/bin/java', major: 21 });
    expect(f.find(22, 'Apicurio')).toEqual({ path: '/jdk/temurin-25/bin/java', major: 25 });
  });

  it('looks in JAVA_HOME too', () => {
    const f = createJavaFinder({ pathJava: 'java', javaHome: '/jdk/zulu-21', jdkDirs: [], probe });
    expect(f.find(21, 'Apicurio').path).toBe('/jdk/zulu-21/bin/java');
  });

  it('says what it found and what is needed when nothing fits', () => {
    const f = createJavaFinder({ pathJava: 'java', javaHome: '/home/jdk11', jdkDirs: [], probe });
    expect(() => f.find(21, 'Apicurio Registry 3.3.3')).toThrow(
      'Apicurio Registry 3.3.3 needs Java 21 or newer, but only Java 17 (java), 11 (/home/jdk11/bin/java) was found; install a JDK 21+ and put it on PATH or in JAVA_HOME',
    );
  });

  it('says java is missing when no JVM runs at all', () => {
    const f = createJavaFinder({ pathJava: '/nope/java', jdkDirs: ['/nope/jdk'], probe });
    expect(() => f.find(17, 'Kafka')).toThrow(
      expect.objectContaining({ code: 'ERR_STACK', message: expect.stringMatching(/^java was not found on PATH: install a JDK 17 or newer/) as unknown }),
    );
  });

  it('asks each JVM for its version once', () => {
    const calls: string[] = [];
    const f = createJavaFinder({ pathJava: 'java', jdkDirs: ['/jdk/zulu-21'], probe: (j) => (calls.push(j), probe(j)) });
    f.find(17, 'Kafka');
    f.find(21, 'Apicurio');
    f.find(21, 'Apicurio');
    expect(calls.sort()).toEqual(['/jdk/zulu-21/bin/java', 'java']);
  });
});
