import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStackConfig } from './config.js';
import { fetchApicurio, fetchKafka, log4jVersionFor } from './fetch.js';
import { resolveLayout } from './layout.js';
import { defaultTools } from './proc.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'bp-fetch-'));
}

function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function setup() {
  const dir = tmp();
  const layout = resolveLayout(loadStackConfig({}, { BITPREDICT_STACK_DIR: join(dir, 'stack') }), dir);
  const lines: string[] = [];
  return { dir, layout, lines, progress: (l: string) => lines.push(l) };
}

// A stand-in for mvn: `-v` succeeds; the goal writes into -DoutputDirectory what the test asks for.
function fakeMvn(dir: string, onGoal: string): string {
  return script(
    dir,
    'mvn',
    `if [ "$1" = "-v" ]; then echo "Apache Maven 3.8.7"; exit 0; fi
echo "$@" > "${join(dir, 'mvn-args')}"
for a in "$@"; do case "$a" in -DoutputDirectory=*) out="\${a#-DoutputDirectory=}";; esac; done
mkdir -p "$out"
${onGoal}`,
  );
}

describe('log4jVersionFor', () => {
  it.each([
    ['4.0.0', '2.24.3'],
    ['4.1.1', '2.24.3'],
    ['4.2.0', '2.25.3'],
    ['5.0.0', '2.25.3'],
    ['3.9.0', null],
    ['banana', null],
  ])('%s -> %s', (kafka, want) => {
    expect(log4jVersionFor(kafka)).toBe(want);
  });
});

describe('fetchKafka', () => {
  it('skips Maven entirely when the marker says the folder is complete', async () => {
    const { layout, progress } = setup();
    mkdirSync(layout.kafka.homeDir, { recursive: true });
    writeFileSync(layout.kafka.marker, 'kafka_2.13-4.1.1.jar\n');
    expect(await fetchKafka({ layout, tools: { ...defaultTools, mvn: '/nonexistent/mvn' }, progress })).toBe('cached');
  });

  it('names the missing mvn and how to install it', async () => {
    const { layout, progress } = setup();
    await expect(fetchKafka({ layout, tools: { ...defaultTools, mvn: '/nonexistent/mvn' }, progress })).rejects.toThrow(
      /^mvn was not found on PATH: install Maven .*apt-get install maven/,
    );
  });

  it('passes the pom, output folder and versions to Maven, then writes the marker last', async () => {
    const { dir, layout, lines, progress } = setup();
    const mvn = fakeMvn(dir, 'touch "$out/kafka_2.13-4.1.1.jar" "$out/kafka-clients-4.1.1.jar"; exit 0');
    expect(await fetchKafka({ layout, tools: { ...defaultTools, mvn }, progress })).toBe('fetched');
    const args = readFileSync(join(dir, 'mvn-args'), 'utf8');
    expect(args).toContain(`-f ${layout.pomFile} dependency:copy-dependencies -DincludeScope=runtime`);
    expect(args).toContain('-Dkafka.version=4.1.1 -Dlog4j.version=2.24.3');
    expect(readFileSync(layout.kafka.marker, 'utf8')).toBe('kafka-clients-4.1.1.jar\nkafka_2.13-4.1.1.jar\n');
    expect(existsSync(join(layout.kafka.libsDir, 'kafka_2.13-4.1.1.jar'))).toBe(true);
    expect(existsSync(`${layout.kafka.homeDir}.tmp`)).toBe(false);
    expect(lines[0]).toBe('fetching Kafka 4.1.1 jars via Maven (cached in ~/.m2; about 45 MB on first download)...');
  });

  it("reports a failed download with Maven's error line and leaves no marker", async () => {
    const { dir, layout, progress } = setup();
    const mvn = fakeMvn(dir, 'echo "[INFO] Scanning"; echo "[ERROR] Failed to execute goal on project x: Could not resolve dependencies" >&2; exit 1');
    const err = (await fetchKafka({ layout, tools: { ...defaultTools, mvn }, progress }).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'ERR_STACK' });
    expect(err.message).toMatch(
      /^Maven could not fetch org\.apache\.kafka:kafka_2\.13:4\.1\.1 \(exit 1\): \[ERROR\] Failed to execute goal .*Could not resolve dependencies -- check access to Maven Central/,
    );
    expect(existsSync(layout.kafka.marker)).toBe(false);
  });

  it('refuses a Maven run that produced no broker jar', async () => {
    const { dir, layout, progress } = setup();
    const mvn = fakeMvn(dir, 'touch "$out/slf4j-api-1.7.36.jar"; exit 0');
    await expect(fetchKafka({ layout, tools: { ...defaultTools, mvn }, progress })).rejects.toThrow(/holds no kafka_2\.13-4\.1\.1\.jar/);
    expect(existsSync(layout.kafka.marker)).toBe(false);
  });

  it('throws away a half-finished earlier attempt and fetches again', async () => {
    const { dir, layout, progress } = setup();
    mkdirSync(layout.kafka.libsDir, { recursive: true });
    writeFileSync(join(layout.kafka.libsDir, 'partial.jar'), '');
    const mvn = fakeMvn(dir, 'touch "$out/kafka_2.13-4.1.1.jar"; exit 0');
    expect(await fetchKafka({ layout, tools: { ...defaultTools, mvn }, progress })).toBe('fetched');
    expect(existsSync(join(layout.kafka.libsDir, 'partial.jar'))).toBe(false);
  });
});

describe('fetchApicurio', () => {
  it('downloads via dependency:copy, unpacks, checks quarkus-run.jar and drops the archive', async () => {
    const { dir, layout, progress } = setup();
    const src = join(dir, 'src');
    mkdirSync(join(src, 'app'), { recursive: true });
    writeFileSync(join(src, 'quarkus-run.jar'), 'jar');
    const mvn = fakeMvn(dir, `tar czf "$out/apicurio-registry-app-3.3.3-all.tar.gz" -C "${src}" .; exit 0`);
    expect(await fetchApicurio({ layout, tools: { ...defaultTools, mvn }, progress })).toBe('fetched');
    expect(readFileSync(join(dir, 'mvn-args'), 'utf8')).toContain('dependency:copy -Dartifact=io.apicurio:apicurio-registry-app:3.3.3:tar.gz:all');
    expect(existsSync(join(layout.registry.homeDir, 'quarkus-run.jar'))).toBe(true);
    expect(existsSync(layout.registry.marker)).toBe(true);
    expect(existsSync(layout.registry.downloadDir)).toBe(false);
  });

  it('refuses an archive without quarkus-run.jar', async () => {
    const { dir, layout, progress } = setup();
    const src = join(dir, 'src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'README'), 'x');
    const mvn = fakeMvn(dir, `tar czf "$out/apicurio-registry-app-3.3.3-all.tar.gz" -C "${src}" .; exit 0`);
    await expect(fetchApicurio({ layout, tools: { ...defaultTools, mvn }, progress })).rejects.toThrow(/has no quarkus-run\.jar/);
    expect(existsSync(layout.registry.marker)).toBe(false);
  });

  it('reports a truncated archive as an unpack failure', async () => {
    const { dir, layout, progress } = setup();
    const mvn = fakeMvn(dir, 'printf "\\037\\213\\010\\000garbage" > "$out/apicurio-registry-app-3.3.3-all.tar.gz"; exit 0');
    await expect(fetchApicurio({ layout, tools: { ...defaultTools, mvn }, progress })).rejects.toThrow(
      /could not unpack apicurio-registry-app-3\.3\.3-all\.tar\.gz/,
    );
    expect(existsSync(layout.registry.marker)).toBe(false);
  });

  it('reports Maven finishing without an archive', async () => {
    const { dir, layout, progress } = setup();
    const mvn = fakeMvn(dir, 'exit 0');
    await expect(fetchApicurio({ layout, tools: { ...defaultTools, mvn }, progress })).rejects.toThrow(/holds no \.tar\.gz/);
  });
});
