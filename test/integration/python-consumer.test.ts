// The Python consumer recipe of docs/topics.md, run as it is documented: the script in
// docs/recipes/python/consume.py (Debian's python3-confluent-kafka and python3-avro, no fastavro)
// reads `features` and `predictions` written by the project's own serde and transactional producer,
// and each record it prints must equal what was produced, field by field. It reads read_committed:
// an aborted transaction's vectors (which a read_uncommitted run does show) never appear. Records
// not in the wire format are reported on stderr with their offsets and skipped. Without python3 or
// the two modules the test is skipped with what is missing; under CI (CI=true) it fails instead.
// PYTHON picks the interpreter (default /usr/bin/python3: pyenv's python3 does not see Debian's
// dist-packages).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../cli/stack/config.js';
import { formatHostPort, resolveLayout } from '../../cli/stack/layout.js';
import { isPortOpen } from '../../cli/stack/probe.js';
import { featuresFromCandles } from '../../core/features/batch.js';
import { createProducer, createTransactionalProducer } from '../../core/kafka/producer.js';
import type { OutRecord } from '../../core/kafka/records.js';
import type { FeatureVector, Prediction } from '../../schemas/types.js';
import { candle, HOUR_MS } from '../helpers/candles.js';
import { scoredText } from '../helpers/features.js';
import { createTestPlatform, REPO_ROOT, type TestPlatform } from '../helpers/platform.js';
import { distributionPrediction } from '../helpers/predictions.js';

const SCRIPT = resolve(REPO_ROOT, 'docs/recipes/python/consume.py');
const PYTHON = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

/** Why the recipe cannot run here (null: it can). */
function pythonMissing(): string | null {
  const res = spawnSync(PYTHON, ['-c', 'import confluent_kafka, avro.io'], { encoding: 'utf8' });
  if (res.error) return `${PYTHON} not found (set PYTHON, or apt install python3)`;
  if (res.status !== 0) {
    const mod = /No module named '([^']+)'/.exec(res.stderr)?.[1] ?? res.stderr.trim();
    return `${PYTHON} lacks ${mod} (apt install python3-confluent-kafka python3-avro; set PYTHON to the interpreter that has them)`;
  }
  return null;
}
const missing = pythonMissing();
if (missing !== null && process.env.CI === 'true') throw new Error(`python-consumer: CI must run the Python recipe: ${missing}`);
if (missing !== null) process.stderr.write(`python-consumer: skipped: ${missing}\n`);

// The registry behind basic auth and TLS (stack up --secure), with the settings of its client.env.
const secureLayout = resolveLayout(loadStackConfig(process.env), REPO_ROOT);
const secureProxy = secureLayout.secureMode.registryProxy.listen;
const secureMissing = !existsSync(secureLayout.kafka.secure.clientEnv)
  ? `${secureLayout.kafka.secure.clientEnv} is missing`
  : !(await isPortOpen(secureProxy))
    ? `the registry proxy does not answer on ${formatHostPort(secureProxy)}`
    : null;
if (missing === null && secureMissing !== null && process.env.CI === 'true') throw new Error(`python-consumer: CI needs the secured stack: ${secureMissing}`);
if (missing === null && secureMissing !== null)
  process.stderr.write(`python-consumer: registry with auth and TLS skipped: ${secureMissing} (npm run stack:up -- --secure)\n`);

/** The BITPREDICT_REGISTRY_* lines of client.env, as `set -a; . client.env` exports them. */
function secureRegistryEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(secureLayout.kafka.secure.clientEnv, 'utf8').split('\n')) {
    const m = /^(BITPREDICT_REGISTRY_[A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

interface Printed {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  timestamp: number;
  value: Record<string, unknown>;
}

/** Runs the script to completion (killed after 60 s: a hang fails the test) and parses its JSON lines. */
function consume(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; records: Printed[]; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env, PYTHONUNBUFFERED: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') return reject(new Error(`consume.py ${args.join(' ')} did not finish within 60 s; stderr: ${stderr}`));
      const records = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Printed);
      resolveRun({ code, records, stderr });
    });
  });
}

/** Field-by-field differences of a printed value from the produced one ("field: got x, want y"). */
function differences(got: Record<string, unknown>, want: object): string[] {
  const w = want as Record<string, unknown>;
  const fields = new Set([...Object.keys(got), ...Object.keys(w)]);
  return [...fields].filter((k) => !isDeepStrictEqual(got[k], w[k])).map((k) => `${k}: got ${JSON.stringify(got[k])}, want ${JSON.stringify(w[k])}`);
}

describe.skipIf(missing !== null)('the Python consumer recipe (docs/recipes/python/consume.py) against the real stack', () => {
  let tp: TestPlatform;
  let features: FeatureVector[];
  let aborted: FeatureVector[];
  let predictions: Prediction[];
  let bad: { what: string; partition: number; offset: string }[];
  let registry: string;

  beforeAll(async () => {
    tp = await createTestPlatform('python', { BITPREDICT_TOPIC_PARTITIONS: '2' });
    registry = tp.config.registry.url;
    const t0 = Date.UTC(2024, 0, 1);
    // Two series over 60 hours: indicators warm up (nulls), sentiment from a few scored texts.
    const candles = Array.from({ length: 60 }, (_, i) => [
      candle(t0 + i * HOUR_MS, 42_000 + 150 * Math.sin(i / 3), { ingestedAt: t0 + (i + 1) * HOUR_MS + 1234 }),
      candle(t0 + i * HOUR_MS, 2_300 + 9 * Math.cos(i / 4), { symbol: 'ETHUSDT', quoteVolume: 5.5, tradeCount: i }),
    ]).flat();
    const texts = [
      scoredText('a'.repeat(32), t0 + 5 * HOUR_MS, 0.4),
      scoredText('b'.repeat(32), t0 + 5.5 * HOUR_MS, -0.3, { positive: 0.2, negative: 0.7 }),
      scoredText('c'.repeat(32), t0 + 40 * HOUR_MS, 0.9),
    ];
    const all = featuresFromCandles(candles, texts, { windowMs: 4 * HOUR_MS, computedAt: Date.UTC(2026, 0, 2) });
    features = all.slice(0, 110);
    aborted = all.slice(110, 116);
    const last = all.slice(116);
    predictions = features
      .filter((f) => f.symbol === 'BTCUSDT' && f.return24 !== null)
      .slice(0, 6)
      .flatMap((f, i) => [
        distributionPrediction(
          f,
          { modelName: 'persistence', modelVersion: 'fit-2024', isBaseline: true, mean: () => 0, scale: (h) => 0.004 * Math.sqrt(h) },
          [1, 4, 24],
          HOUR_MS,
        ),
        distributionPrediction(
          f,
          { modelName: 'lstm-attention', modelVersion: `v${i}`, isBaseline: false, mean: (h) => 1e-4 * h * (i - 2), scale: (h) => 0.005 * Math.sqrt(h) },
          [1, 4, 24],
          HOUR_MS,
        ),
      ]);
    const serde = tp.platform.serde;
    const featureRecord = (f: FeatureVector): OutRecord => ({
      topic: tp.topic('features'),
      key: `${f.symbol}:${f.interval}`,
      value: serde.encode('features', f),
      timestamp: f.eventTime,
    });

    const tx = await createTransactionalProducer(tp.platform.kafka, `${tp.prefix}python-writer`);
    try {
      await tx.sendWithOffsets(
        [
          ...features.map(featureRecord),
          ...predictions.map((p) => ({
            topic: tp.topic('predictions'),
            key: `${p.symbol}:${p.interval}`,
            value: serde.encode('predictions', p),
            timestamp: p.eventTime,
          })),
        ],
        [],
      );
      // An aborted transaction that did write vectors to `features`: the broker takes them, then
      // refuses the oversized record on `predictions`, so the transaction aborts.
      const refused = await tx
        .sendWithOffsets([...aborted.map(featureRecord), { topic: tp.topic('predictions'), key: 'too-big', value: Buffer.alloc(2_000_000, 3) }], [])
        .then(
          () => 'sent',
          (err: unknown) => String(err),
        );
      expect(refused).toMatch(/larger than the max message size|too large/i);
    } finally {
      await tx.close();
    }

    // Bad values on the BTCUSDT partition, then good vectors after them (plain idempotent producer).
    const id = serde.schemaId('features');
    const framed = serde.encode('features', last[0] as FeatureVector);
    const header = Buffer.from(framed.subarray(0, 5));
    const unknownId = Buffer.from(framed);
    unknownId.writeInt32BE(0x7ffffff0, 1);
    const badValues: [string, Buffer | null][] = [
      ['json', Buffer.from('{"symbol":"BTCUSDT"}')],
      ['truncated', framed.subarray(0, framed.length - 9)],
      ['header only', header],
      ['four bytes', Buffer.from([0, 0, 0, id & 0xff])],
      ['unknown schema id', unknownId],
      ['negative schema id', Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 2])],
      ['trailing bytes', Buffer.concat([framed, Buffer.from([1, 2, 3])])],
      ['null', null],
    ];
    const producer = await createProducer(tp.platform.kafka);
    try {
      await producer.send(badValues.map(([, value]) => ({ topic: tp.topic('features'), key: 'BTCUSDT:1h', value, timestamp: last[0]?.eventTime })));
      await producer.send(last.map(featureRecord));
    } finally {
      await producer.close();
    }
    const stored = await tp.readAll('features');
    bad = badValues.map(([what, value]) => {
      const at = stored.find((r) => (value === null ? r.raw === null : r.raw?.equals(value) === true));
      if (!at) throw new Error(`bad record "${what}" not found in ${tp.topic('features')}`);
      return { what, partition: at.partition, offset: at.offset };
    });
    features = [...features, ...last];
  });

  afterAll(async () => {
    await tp?.cleanup();
  });

  it('prints every committed feature vector, field by field as produced, none of the aborted transaction, and reports each bad record with its offset', async () => {
    const topic = tp.topic('features');
    const run = await consume(['--bootstrap', tp.config.kafka.brokers.join(','), '--registry', registry, '--topic', topic, '--end']);
    expect(run.code, run.stderr).toBe(0);
    const byKey = new Map(features.map((f) => [`${f.symbol}:${f.interval}:${f.eventTime}`, f]));
    const problems: string[] = [];
    for (const r of run.records) {
      const v = r.value as unknown as FeatureVector;
      const want = byKey.get(`${v.symbol}:${v.interval}:${v.eventTime}`);
      if (!want) {
        problems.push(`${r.partition}@${r.offset}: ${v.symbol} ${new Date(v.eventTime).toISOString()} was not committed`);
        continue;
      }
      problems.push(...differences(r.value, want).map((d) => `${v.symbol} ${new Date(v.eventTime).toISOString()} ${d}`));
      if (r.topic !== topic || r.key !== `${want.symbol}:${want.interval}` || r.timestamp !== want.eventTime)
        problems.push(`${r.offset}: topic/key/timestamp ${r.topic} ${r.key} ${r.timestamp}`);
    }
    expect(problems).toEqual([]);
    expect(run.records).toHaveLength(features.length);
    // Per series in the order written.
    for (const symbol of ['BTCUSDT', 'ETHUSDT'])
      expect(run.records.filter((r) => r.value.symbol === symbol).map((r) => r.value.eventTime)).toEqual(
        features.filter((f) => f.symbol === symbol).map((f) => f.eventTime),
      );
    // Each bad record: one stderr line naming topic, partition and offset, with the reason.
    for (const b of bad) expect(run.stderr, b.what).toContain(`skipped ${topic} [${b.partition}] @ ${b.offset}: `);
    const skipped = run.stderr.split('\n').filter((l) => l.includes(' skipped '));
    expect(skipped).toHaveLength(bad.length);
    expect(run.stderr).toMatch(/not the Confluent wire format: 20 bytes starting 7b2273796d/);
    expect(run.stderr).toMatch(/not the Confluent wire format: null/);
    expect(run.stderr).toMatch(/schema id 2147483632 is not in the registry/);
    expect(run.stderr).toMatch(/schema id -1 is not in the registry/);
    expect(run.stderr).toMatch(/3 bytes after the Avro body/);
    expect(run.stderr).toMatch(/Avro body does not match schema id/);
  });

  it('a read_uncommitted run does show the aborted vectors (so the read_committed check above can fail)', async () => {
    const run = await consume(['--registry', registry, '--topic', tp.topic('features'), '--end', '-X', 'isolation.level=read_uncommitted']);
    expect(run.code, run.stderr).toBe(0);
    const times = new Set(run.records.map((r) => `${String(r.value.symbol)}:${String(r.value.eventTime)}`));
    expect(aborted.filter((f) => times.has(`${f.symbol}:${f.eventTime}`))).toHaveLength(aborted.length);
  });

  it('prints the predictions with --max N, distributions field by field as produced', async () => {
    const run = await consume(['--registry', registry, '--topic', tp.topic('predictions'), '--max', String(predictions.length)]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.records).toHaveLength(predictions.length);
    const problems = run.records.flatMap((r, i) => differences(r.value, predictions[i] as Prediction).map((d) => `prediction ${i}: ${d}`));
    expect(problems).toEqual([]);
    expect(run.records.every((r) => r.key === 'BTCUSDT:1h' && r.timestamp === r.value.eventTime)).toBe(true);
    expect(run.stderr).toBe('');
  });

  it('refuses an unknown topic, an unreachable Kafka, an unreachable registry and a registry URL without the API path with a message naming the flag, without hanging', async () => {
    const noTopic = await consume(['--topic', `${tp.prefix}no-such-topic`, '--end']);
    expect(noTopic.code).toBe(1);
    expect(noTopic.stderr).toMatch(/no-such-topic.*check --topic/s);
    const noKafka = await consume(['--bootstrap', '127.0.0.1:9', '--topic', tp.topic('features')]);
    expect(noKafka.code).toBe(1);
    expect(noKafka.stderr).toMatch(/Kafka at 127\.0\.0\.1:9: .*brokers are down \(check --bootstrap/);
    const noRegistry = await consume(['--registry', 'http://127.0.0.1:9/apis/ccompat/v7', '--topic', tp.topic('predictions'), '--max', '1']);
    expect(noRegistry.code).toBe(1);
    expect(noRegistry.records).toEqual([]);
    const noApi = await consume(['--registry', new URL(registry).origin, '--topic', tp.topic('predictions'), '--max', '1']);
    expect(noApi.code).toBe(1);
    expect(noApi.records).toEqual([]);
    expect(noApi.stderr).toMatch(/no Confluent-compatible API at http:\/\/[^ ]+ \(check --registry, path included/);
    expect(noRegistry.stderr).toMatch(/registry http:\/\/127\.0\.0\.1:9\/apis\/ccompat\/v7: .*refused.*check --registry/);
  });

  describe.skipIf(secureMissing !== null)('with the registry behind basic auth and TLS (client.env of stack up --secure)', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'bp-python-consumer-'));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    it('reads the predictions with the settings of client.env; a wrong password and a missing CA exit 1 naming the flag', async () => {
      const env = secureRegistryEnv();
      expect(env.BITPREDICT_REGISTRY_URL).toMatch(/^https:/);
      expect(env.BITPREDICT_REGISTRY_USERNAME).not.toBe('');
      const args = ['--topic', tp.topic('predictions'), '--max', String(predictions.length)];
      const run = await consume(args, env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.records.flatMap((r, i) => differences(r.value, predictions[i] as Prediction))).toEqual([]);
      expect(run.records).toHaveLength(predictions.length);

      const wrong = join(scratch, 'wrong-password');
      writeFileSync(wrong, 'not-the-password\n');
      const denied = await consume(args, { ...env, BITPREDICT_REGISTRY_PASSWORD_FILE: wrong });
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/answered HTTP 401 \(check --registry-user, BITPREDICT_REGISTRY_PASSWORD/);
      expect(denied.stderr).not.toContain('not-the-password');
      const noCa = await consume(args, { ...env, BITPREDICT_REGISTRY_SSL_CA_FILE: '' });
      expect(noCa.code).toBe(1);
      expect(noCa.stderr).toMatch(/CERTIFICATE_VERIFY_FAILED.*check --registry, --registry-ca/);
    });
  });
});
