// The Fluent Bit configuration (deployment/kubernetes/components/fluent-bit/fluent-bit.yaml), checked
// offline: there is no Fluent Bit binary here (no Debian package), so the test parses the YAML
// configuration, checks that every parser, variable and route it references exists, and runs real
// log lines (written by core/logger.ts) through the parsing the configuration declares, modelled in
// JS: the built-in `cri` and `docker` multiline parsers of the tail input (their regex and partial-
// line rules as Fluent Bit defines them), then the `json` parser of the parser filter with
// reserve_data. What the model cannot show (the kubernetes filter's API calls, the outputs' network
// protocols) is left to a real cluster.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createLogger } from '../core/logger.js';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'kubernetes', 'components', 'fluent-bit');
const CONFIG_FILE = join(DIR, 'fluent-bit.yaml');

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');

/** Fluent Bit's built-in multiline parsers (a config may name them without declaring them). */
const BUILTIN_MULTILINE = new Set(['docker', 'cri', 'go', 'python', 'java', 'ruby']);
/** The outputs LOG_OUTPUT may choose (docs/operations.md, "Shipping logs"). */
const OUTPUT_CHOICES = ['stdout', 'loki', 'es'];
/** The fields every shipped BitPredict line must keep (core/logger.ts; trace ids while tracing). */
const KEPT_FIELDS = ['service', 'version', 'level', 'msg', 'trace_id', 'span_id'];

/** The configuration's env variables (`${NAME}`) replaced as Fluent Bit does when it loads the file. */
function substitute(source: string, env: Record<string, string>): string {
  return source.replace(/\$\{(\w+)\}/g, (_m, name: string) => env[name] ?? '');
}

/** Fluent Bit's tag match: `*` matches any run of characters (tags hold no `/`). */
function tagMatches(pattern: string, tag: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(tag);
}

/** The tail input's tag for a file: `*` replaced by the path with `/` turned into `.`. */
function tailTag(tagPattern: string, path: string): string {
  return tagPattern.replace('*', path.replace(/^\//, '').replaceAll('/', '.'));
}

/** A shell glob (tail's path) as a regex over one path. */
function globMatches(glob: string, path: string): boolean {
  return new RegExp(
    `^${glob
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  ).test(path);
}

/**
 * Problems of a Fluent Bit YAML configuration: sections, the parsers it references, the variables
 * it needs (set by `env`), the file it tails, and that each LOG_OUTPUT choice reaches exactly one
 * output through both filters.
 */
function checkConfig(source: string, env: Record<string, string>): string[] {
  const problems: string[] = [];
  const used = [...source.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] ?? '');
  for (const v of new Set(used)) if (!(v in env)) problems.push(`variable ${v} is not set by the ConfigMap bitpredict-fluent-bit-env`);
  const doc = obj(parse(substitute(source, env)));
  const pipeline = obj(doc.pipeline);
  const inputs = arr(pipeline.inputs).map(obj);
  const filters = arr(pipeline.filters).map(obj);
  const parsers = new Set(arr(doc.parsers).map((p) => str(obj(p).name)));
  const multiline = new Set([...BUILTIN_MULTILINE, ...arr(doc.multiline_parsers).map((p) => str(obj(p).name))]);
  if (inputs.length !== 1 || inputs[0]?.name !== 'tail') problems.push('pipeline.inputs: needs exactly one tail input');
  const tail = inputs[0] ?? {};
  for (const p of str(tail['multiline.parser'])
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean))
    if (!multiline.has(p)) problems.push(`tail: multiline.parser ${p} is neither built in nor declared`);
  if (str(tail.parser) && !parsers.has(str(tail.parser))) problems.push(`tail: parser ${str(tail.parser)} is not declared`);
  for (const f of filters) {
    if (f.name === 'parser') {
      for (const p of str(f.parser)
        .split(',')
        .map((x) => x.trim()))
        if (!parsers.has(p)) problems.push(`filter parser: parser ${p} is not declared in parsers`);
      if (f.key_name !== 'log') problems.push('filter parser: key_name must be log, the field the multiline parsers fill');
    }
  }
  const file = '/var/log/containers/bitpredict-features-7d9f8b6c4-x2x9z_bitpredict_features-0123456789abcdef.log';
  if (!globMatches(str(tail.path), file)) problems.push(`tail: path ${str(tail.path)} does not match the bitpredict namespace's log files`);
  if (globMatches(str(tail.path), file.replace('_bitpredict_', '_kube-system_'))) problems.push(`tail: path ${str(tail.path)} also reads other namespaces`);
  for (const choice of OUTPUT_CHOICES) {
    // The whole file as Fluent Bit loads it with this choice: tag, matches and prefix all follow it.
    const p = obj(obj(parse(substitute(source, { ...env, LOG_OUTPUT: choice }))).pipeline);
    const tag = tailTag(str(obj(arr(p.inputs)[0]).tag), file);
    const reached = arr(p.outputs)
      .map(obj)
      .filter((o) => tagMatches(str(o.match), tag));
    if (reached.length !== 1 || reached[0]?.name !== choice)
      problems.push(`LOG_OUTPUT=${choice}: reaches [${reached.map((o) => str(o.name)).join(', ')}], must reach exactly the ${choice} output`);
    const chosenFilters = arr(p.filters).map(obj);
    for (const f of chosenFilters) if (!tagMatches(str(f.match), tag)) problems.push(`LOG_OUTPUT=${choice}: filter ${str(f.name)} does not match ${tag}`);
    const prefix = str(chosenFilters.find((f) => f.name === 'kubernetes')?.kube_tag_prefix);
    // The kubernetes filter finds pod, namespace and container in what follows the prefix.
    if (!tag.startsWith(prefix) || !/^[^_]+_[^_]+_.+-[0-9a-f]+\.log$/.test(tag.slice(prefix.length)))
      problems.push(`LOG_OUTPUT=${choice}: kube_tag_prefix ${prefix} does not leave <pod>_<namespace>_<container>-<id>.log of ${tag}`);
  }
  return problems;
}

// --- The parsing the configuration declares, modelled -------------------------------------------

/** Fluent Bit's built-in `cri` multiline parser: its regex; `_p` P is a partial line, F the last part. */
const CRI_REGEX = /^(?<time>.+?) (?<stream>stdout|stderr) (?<_p>F|P) (?<log>.*)$/;

type LogRecord = Record<string, unknown>;

/**
 * The tail input with `multiline.parser: cri, docker`: each file line is tried against the
 * parsers in order; partial lines (CRI `P`, docker's `log` without a final newline) are joined
 * with the following ones until the last part. A line neither parser matches passes as its text.
 */
function tailMultiline(fileLines: string[]): LogRecord[] {
  const out: LogRecord[] = [];
  let pending: { stream: string; time: string; log: string } | undefined;
  for (const line of fileLines) {
    const cri = CRI_REGEX.exec(line)?.groups;
    let part: { stream: string; time: string; log: string; partial: boolean } | undefined;
    if (cri) part = { stream: cri.stream ?? '', time: cri.time ?? '', log: cri.log ?? '', partial: cri._p === 'P' };
    else {
      try {
        const d = obj(JSON.parse(line) as unknown);
        if (typeof d.log === 'string') part = { stream: str(d.stream), time: str(d.time), log: d.log, partial: !d.log.endsWith('\n') };
      } catch {
        // not docker's format either
      }
    }
    if (!part) {
      out.push({ log: line });
      continue;
    }
    pending = pending ? { ...pending, log: pending.log + part.log } : { stream: part.stream, time: part.time, log: part.log };
    if (!part.partial) {
      out.push({ ...pending });
      pending = undefined;
    }
  }
  if (pending) out.push({ ...pending });
  return out;
}

/** The parser filter with a `json` parser and reserve_data on: the map's keys replace key_name. */
function parserFilter(record: LogRecord, keyName: string): LogRecord {
  const value = record[keyName];
  if (typeof value !== 'string') return record;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return record;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return record;
  const { [keyName]: _dropped, ...rest } = record;
  return { ...rest, ...(parsed as LogRecord) };
}

/** The configuration's pipeline over a container log file's lines, as the config declares it. */
function ship(config: Obj, fileLines: string[]): LogRecord[] {
  const filter = arr(obj(config.pipeline).filters)
    .map(obj)
    .find((f) => f.name === 'parser');
  const parser = arr(config.parsers)
    .map(obj)
    .find((p) => p.name === filter?.parser);
  if (str(parser?.format) !== 'json') throw new Error(`the parser filter's parser ${str(filter?.parser)} is not a json parser`);
  return tailMultiline(fileLines).map((r) => parserFilter(r, str(filter?.key_name)));
}

/** Container runtime framing of what a process wrote: CRI (containerd, CRI-O) or docker json-file. */
function cri(line: string, stream = 'stdout', maxPart = 16_384): string[] {
  const parts: string[] = [];
  for (let i = 0; i < line.length; i += maxPart) parts.push(line.slice(i, i + maxPart));
  return parts.map((p, i) => `2026-12-07T16:00:00.${String(123456789 + i)}Z ${stream} ${i === parts.length - 1 ? 'F' : 'P'} ${p}`);
}
function docker(line: string, stream = 'stdout', maxPart = 16_384): string[] {
  const text = `${line}\n`;
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += maxPart) parts.push(text.slice(i, i + maxPart));
  return parts.map((p) => JSON.stringify({ log: p, stream, time: '2026-12-07T16:00:00.123456789Z' }));
}

// --- Tests --------------------------------------------------------------------------------------

const SOURCE = readFileSync(CONFIG_FILE, 'utf8');
/** The env the DaemonSet gets: the literals of the ConfigMap bitpredict-fluent-bit-env. */
const ENV = Object.fromEntries(
  arr(
    arr(obj(parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))).configMapGenerator)
      .map(obj)
      .find((g) => g.name === 'bitpredict-fluent-bit-env')?.literals,
  ).map((l) => {
    const s = str(l);
    return [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)];
  }),
);

describe('components/fluent-bit/fluent-bit.yaml', () => {
  const lines: string[] = [];
  const contextManager = new AsyncLocalStorageContextManager();

  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
    const logger = createLogger({ name: 'features', version: '0.1.0-test', traceIds: true, destination: { write: (l: string) => lines.push(l.trimEnd()) } });
    const span = trace.wrapSpanContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED });
    context.with(trace.setSpan(context.active(), span), () => {
      logger.child({ component: 'consumer' }).info({ groupId: 'bitpredict-features', partition: 2 }, 'joined the group');
      // A long line: more than one 16 KiB part in the runtime's log file.
      logger.warn({ detail: 'x'.repeat(40_000) }, 'oversized line');
    });
    logger.error(new Error('outside a span'), 'no trace');
  });

  afterAll(() => {
    contextManager.disable();
    context.disable();
  });

  it('is valid: every parser, variable and route it references exists, each LOG_OUTPUT reaches one output', () => {
    expect(ENV.LOG_OUTPUT).toBe('stdout');
    expect(checkConfig(SOURCE, ENV)).toEqual([]);
  });

  it('reports a missing parser, an unset variable, a wrong path and an output no choice reaches', () => {
    const broken = SOURCE.replace('parser: bitpredict-json', 'parser: bitpredict-jsn')
      .replace('multiline.parser: cri, docker', 'multiline.parser: crio, docker')
      .replace('path: /var/log/containers/*_bitpredict_*.log', 'path: /var/log/containers/*.log')
      .replace('match: bitpredict.loki.*', 'match: bitpredict.*')
      .replace('${ES_HOST}', '${ES_HOSTNAME}');
    const problems = checkConfig(broken, ENV).join('\n');
    expect(problems).toContain('filter parser: parser bitpredict-jsn is not declared in parsers');
    expect(problems).toContain('tail: multiline.parser crio is neither built in nor declared');
    expect(problems).toContain('tail: path /var/log/containers/*.log also reads other namespaces');
    expect(problems).toContain('LOG_OUTPUT=stdout: reaches [stdout, loki], must reach exactly the stdout output');
    expect(problems).toContain('variable ES_HOSTNAME is not set by the ConfigMap bitpredict-fluent-bit-env');
    const prefix = checkConfig(
      SOURCE.replace('kube_tag_prefix: bitpredict.${LOG_OUTPUT}.var.log.containers.', 'kube_tag_prefix: kube.var.log.containers.'),
      ENV,
    );
    expect(prefix.join('\n')).toContain('LOG_OUTPUT=loki: kube_tag_prefix kube.var.log.containers. does not leave');
  });

  for (const [runtime, frame] of [
    ['CRI (containerd, CRI-O)', cri],
    ['docker json-file', docker],
  ] as const) {
    it(`keeps service, version, level, msg, trace_id and span_id of the app's JSON lines (${runtime})`, () => {
      const config = obj(parse(substitute(SOURCE, ENV)));
      expect(lines.length).toBe(3);
      const records = ship(
        config,
        lines.flatMap((l) => frame(l)),
      );
      expect(records.length).toBe(3);
      const [joined, oversized, untraced] = records;
      for (const k of KEPT_FIELDS) expect(joined, k).toHaveProperty(k);
      expect(joined).toMatchObject({
        service: 'features',
        version: '0.1.0-test',
        level: 30,
        msg: 'joined the group',
        trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
        span_id: '00f067aa0ba902b7',
        component: 'consumer',
        partition: 2,
        stream: 'stdout',
      });
      expect(joined).not.toHaveProperty('log');
      // The 40 KB line arrived in parts and leaves as one record, its payload whole.
      expect(oversized).toMatchObject({ msg: 'oversized line', level: 40, trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' });
      expect(str(obj(oversized).detail).length).toBe(40_000);
      expect(untraced).toMatchObject({ service: 'features', level: 50, msg: 'no trace' });
      expect(untraced).not.toHaveProperty('trace_id');
    });
  }

  it('loses no line it cannot parse: truncated JSON, plain text and a JSON non-object stay whole in log', () => {
    const config = obj(parse(substitute(SOURCE, ENV)));
    const truncated = (lines[0] ?? '').slice(0, 40);
    const input = [...cri(truncated), ...cri('node:internal/modules/cjs/loader:1228', 'stderr'), ...cri('42'), ...cri(lines[0] ?? ''), ...cri(lines[0] ?? '')];
    const records = ship(config, input);
    expect(records.length).toBe(5);
    expect(Object.keys(records[0] ?? {}).sort()).toEqual(['log', 'stream', 'time']);
    expect(records[0]).toMatchObject({ stream: 'stdout', log: truncated });
    expect(records[1]).toMatchObject({ stream: 'stderr', log: 'node:internal/modules/cjs/loader:1228' });
    expect(records[2]).toMatchObject({ log: '42' });
    // A duplicated line is shipped twice, as written: Fluent Bit does not deduplicate.
    expect(records[3]).toEqual(records[4]);
    expect(records[3]).toMatchObject({ msg: 'joined the group' });
  });
});
