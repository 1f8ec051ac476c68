// Fetches the server distributions from Maven Central through `mvn`, so ~/.m2 caches them across
// runs and machines behind a Maven mirror work unchanged. Each step writes into a temporary
// folder, renames it into place and writes its marker file last: a folder with a marker is
// complete, one without (an interrupted run) is thrown away and fetched again.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BitPredictError } from '../../core/errors.js';
import type { StackLayout } from './layout.js';
import { lastLine, requireMaven, runAsync, type Tools } from './proc.js';
import type { StackJava } from './server.js';

export interface FetchDeps {
  readonly layout: StackLayout;
  readonly tools: Tools;
  readonly progress: (line: string) => void;
}

function mavenFailure(what: string, status: number | null, output: string): BitPredictError {
  return new BitPredictError(
    'ERR_STACK',
    `Maven could not fetch ${what} (exit ${status ?? 'signal'}): ${lastLine(output)} -- check access to Maven Central (or the mirror in ~/.m2/settings.xml) and retry`,
    { details: { output: output.slice(-4000) } },
  );
}

function resetTmp(dir: string): string {
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

function commit(tmp: string, dir: string, marker: string, content: string): void {
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(marker, content);
}

/**
 * Log4j version whose log4j-slf4j-impl binding matches what a Kafka release was built with
 * (2.24.3 for 4.0/4.1, 2.25.3 from 4.2 on); null leaves the pom's default.
 */
export function log4jVersionFor(kafkaVersion: string): string | null {
  const m = /^(\d+)\.(\d+)/.exec(kafkaVersion);
  if (!m) return null;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major === 4 && minor <= 1) return '2.24.3';
  if (major > 4 || (major === 4 && minor >= 2)) return '2.25.3';
  return null;
}

export function isFetched(marker: string): boolean {
  return existsSync(marker);
}

/** Copies kafka_2.13 and its runtime dependencies plus the Log4j 2 binding into <kafka home>/libs. */
export async function fetchKafka(deps: FetchDeps): Promise<'cached' | 'fetched'> {
  const k = deps.layout.kafka;
  if (isFetched(k.marker)) return 'cached';
  requireMaven(deps.tools);
  deps.progress(`fetching Kafka ${k.version} jars via Maven (cached in ~/.m2; about 45 MB on first download)...`);
  const tmp = resetTmp(k.homeDir);
  const libs = join(tmp, 'libs');
  const log4j = log4jVersionFor(k.version);
  const r = await runAsync(deps.tools.mvn, [
    '-q',
    '-B',
    '-f',
    deps.layout.pomFile,
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${libs}`,
    `-Dkafka.version=${k.version}`,
    ...(log4j === null ? [] : [`-Dlog4j.version=${log4j}`]),
  ]);
  if (r.missing) throw new BitPredictError('ERR_STACK', 'mvn was not found on PATH: install Maven (apt-get install maven) and retry');
  if (r.status !== 0) throw mavenFailure(`org.apache.kafka:kafka_2.13:${k.version}`, r.status, r.output);
  const jars = existsSync(libs)
    ? readdirSync(libs)
        .filter((f) => f.endsWith('.jar'))
        .sort()
    : [];
  if (!jars.some((j) => j.startsWith(`kafka_2.13-${k.version}`))) {
    throw new BitPredictError('ERR_STACK', `Maven finished but ${libs} holds no kafka_2.13-${k.version}.jar; check deployment/local/pom.xml`);
  }
  commit(tmp, k.homeDir, k.marker, `${jars.join('\n')}\n`);
  deps.progress(`Kafka ${k.version}: ${jars.length} jars in ${k.libsDir}`);
  return 'fetched';
}

/** Downloads io.apicurio:apicurio-registry-app:<v>:tar.gz:all and unpacks it into <apicurio home>. */
export async function fetchApicurio(deps: FetchDeps): Promise<'cached' | 'fetched'> {
  const a = deps.layout.registry;
  if (isFetched(a.marker)) return 'cached';
  requireMaven(deps.tools);
  const coords = `io.apicurio:apicurio-registry-app:${a.version}:tar.gz:all`;
  deps.progress(`fetching Apicurio Registry ${a.version} via Maven (cached in ~/.m2; about 160 MB on first download)...`);
  rmSync(a.downloadDir, { recursive: true, force: true });
  mkdirSync(a.downloadDir, { recursive: true });
  const r = await runAsync(deps.tools.mvn, [
    '-q',
    '-B',
    '-f',
    deps.layout.pomFile,
    'dependency:copy',
    `-Dartifact=${coords}`,
    `-DoutputDirectory=${a.downloadDir}`,
  ]);
  if (r.missing) throw new BitPredictError('ERR_STACK', 'mvn was not found on PATH: install Maven (apt-get install maven) and retry');
  if (r.status !== 0) throw mavenFailure(coords, r.status, r.output);
  const archive = readdirSync(a.downloadDir).find((f) => f.endsWith('.tar.gz'));
  if (archive === undefined) throw new BitPredictError('ERR_STACK', `Maven finished but ${a.downloadDir} holds no .tar.gz for ${coords}`);
  deps.progress(`unpacking ${archive}...`);
  const tmp = resetTmp(a.homeDir);
  const t = await runAsync(deps.tools.tar, ['xzf', join(a.downloadDir, archive), '-C', tmp]);
  if (t.missing) throw new BitPredictError('ERR_STACK', 'tar was not found on PATH: install tar and retry');
  if (t.status !== 0)
    throw new BitPredictError('ERR_STACK', `could not unpack ${archive} (exit ${t.status}): ${lastLine(t.output)}; delete ${a.downloadDir} and retry`);
  if (!existsSync(join(tmp, 'quarkus-run.jar'))) {
    throw new BitPredictError('ERR_STACK', `${archive} has no quarkus-run.jar at its root; is BITPREDICT_STACK_APICURIO_VERSION a 3.x release?`);
  }
  commit(tmp, a.homeDir, a.marker, `${coords}\n`);
  // ~/.m2 keeps the archive; a second copy here would only waste 160 MB.
  rmSync(a.downloadDir, { recursive: true, force: true });
  return 'fetched';
}

/**
 * Fetches what the servers `up` has to start are missing. Sequential: two Maven processes on one
 * ~/.m2 can corrupt half-written downloads.
 */
export async function fetchForStart(deps: FetchDeps, java: StackJava, need: { kafka: boolean; registry: boolean }): Promise<void> {
  if (!need.kafka && !need.registry) return;
  // Fail before a 200 MB download when there is no JVM at all.
  java.kafka();
  if (need.kafka) await fetchKafka(deps);
  if (need.registry) {
    await fetchApicurio(deps);
    // Apicurio states the Java it needs in its class files, so this check waits for its jars.
    java.registry();
  }
}
