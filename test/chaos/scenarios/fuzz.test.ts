// Fuzz (seeded): malformed bytes into every input topic while every consumer of it runs as a real
// process, then random and malformed requests to every HTTP route of the gateway's OpenAPI document
// and random frames on its WebSocket. What must hold: no process exits (0 crashes), each consumer
// that dead-letters writes exactly one DLQ record per bad record of its input topics (no more, none
// lost or retried twice), the gateway counts each undecodable record it skips, every HTTP answer
// is a 4xx with an error code (never a 5xx, never a hang) and every WebSocket frame is answered
// with a JSON message or a documented close code.
//
// The consumers: features (market.candles, text.scored), sentiment (text.raw), predictor
// (features), the trainer's monitor (predictions, features), the gateway (candles, features,
// predictions: it counts instead of dead-lettering, docs/gateway.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../../helpers/platform.js';
import { createProducer, type Producer } from '../../../core/kafka/producer.js';
import { createKeyStore } from '../../../gateway/auth/keys.js';
import { recordChaos } from '../report.js';
import { warmUpGateway } from '../helpers-b-gateway.js';
import { atScale, metricValue, seededRandom, startService, stopAll, type ChaosProcess } from '../helpers-b-procs.js';
import { badRecord, FUZZ_TOPICS, fuzzConnection, fuzzFrame, fuzzRequest, routesOf, send, type BadRecord, type FuzzTopic } from '../helpers-b-fuzz.js';
import { wsUrl } from '../../helpers/ws-client.js';

const SEED = Number(process.env.CHAOS_SEED ?? 1717);
const PER_TOPIC = atScale(40, 400);
const HTTP_REQUESTS = atScale(400, 4000);
const WS_CONNECTIONS = atScale(20, 200);
const FRAMES_PER_CONNECTION = 25;
/** Close codes the WebSocket protocol documents for bad input (docs/websocket.md), plus RFC 6455's own. */
const DOCUMENTED_CLOSES = new Set([1000, 1002, 1005, 1007, 1009, 4029]);

/**
 * Which consumer group dead-letters which input topic (services' own group names). text.scored is
 * read by every feature instance like a table, so a bad record there is counted
 * (bitpredict_features_texts_total{outcome="invalid"}) and skipped, as the gateway does with its
 * topics: docs/processors.md, docs/gateway.md.
 */
const DEAD_LETTERING: Record<FuzzTopic, string[]> = {
  candles: ['features'],
  textRaw: ['sentiment'],
  textScored: [],
  features: atScale([], ['predictor', 'trainer-monitor']),
  predictions: atScale([], ['trainer-monitor']),
};
/**
 * The processes: at CI scale the predictor and the trainer stay out (five processes starting at
 * once take most of a minute on a 2-core runner); the features and predictions topics are then
 * fuzzed against the gateway alone, which counts what it skips. The full run starts all five.
 */
const SERVICES = atScale(['features', 'sentiment', 'gateway'], ['features', 'sentiment', 'predictor', 'trainer', 'gateway']);

describe('chaos: fuzz every input topic and every gateway endpoint', () => {
  let tp: TestPlatform;
  let producer: Producer;
  let procs: ChaosProcess[] = [];
  let gateway: ChaosProcess;
  const keys: string[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('chaos-fuzz');
    producer = await createProducer(tp.platform.kafka);
    const store = createKeyStore(tp.redis, tp.config.redis.keyPrefix);
    keys.push((await store.create('fuzz-read', 'read')).key, (await store.create('fuzz-admin', 'admin')).key);
    procs = await Promise.all(
      SERVICES.map((command) =>
        startService(tp, {
          command,
          // No retraining: the monitor is what reads the fuzzed topics.
          env: { BITPREDICT_RETRAIN_INTERVAL_MS: '0', BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true' },
        }),
      ),
    );
    gateway = procs.find((p) => p.name === 'gateway') as ChaosProcess;
    await warmUpGateway(tp, producer, gateway.url, { authorization: `Bearer ${keys[0] ?? ''}` });
  });

  afterAll(async () => {
    await stopAll(procs);
    await producer?.close();
    await tp?.cleanup();
  });

  /** The consumers still behind on their input topics ("group on topic: lag"), empty when all caught up. */
  async function behind(): Promise<string[]> {
    const out: string[] = [];
    for (const [topic, groups] of Object.entries(DEAD_LETTERING) as [FuzzTopic, string[]][]) {
      for (const g of groups) {
        const lag = await tp.admin.groupLag(tp.platform.kafka.groupId(g), tp.topic(topic));
        if (!lag.every((p) => (p.lag === 0 && p.committed !== '-1') || p.end === '0')) out.push(`${g} on ${topic}: ${JSON.stringify(lag)}`);
      }
    }
    return out;
  }

  it('survives malformed records, requests and frames; dead-letters each bad record once', async () => {
    const rand = seededRandom(SEED);
    const sent = new Map<FuzzTopic, BadRecord[]>();
    for (const topic of FUZZ_TOPICS) {
      const bad = Array.from({ length: PER_TOPIC }, (_, i) => badRecord(rand, tp.platform.serde, topic, i));
      sent.set(topic, bad);
      await producer.send(bad.map((b) => ({ topic: tp.topic(topic), key: b.key, value: b.value, timestamp: Date.now() })));
    }

    // HTTP: every route of the OpenAPI document, bent.
    const openapi = (await (await fetch(`${gateway.url}/v1/openapi.json`)).json()) as Parameters<typeof routesOf>[0];
    const routes = [...routesOf(openapi), { method: 'GET', path: '/ws', params: [] }, { method: 'GET', path: '/', params: [] }];
    const httpProblems: string[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < HTTP_REQUESTS; i++) {
      const r = fuzzRequest(rand, routes, [...keys, 'bpk_000000000000_notavalidsecret']);
      const what = `${r.method} ${r.path.slice(0, 120)}`;
      try {
        const res = await send(gateway.url, r);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) httpProblems.push(`${what} -> ${res.status} ${res.body.slice(0, 200)}`);
        else if (res.status >= 400 && r.method !== 'HEAD' && r.path.startsWith('/v1')) {
          const code = (() => {
            try {
              return (JSON.parse(res.body) as { code?: unknown }).code;
            } catch {
              return undefined;
            }
          })();
          if (typeof code !== 'string' || !code.startsWith('ERR_'))
            httpProblems.push(`${what} -> ${res.status} without an error code: ${res.body.slice(0, 200)}`);
        }
      } catch (err) {
        // A reset while a large body is still being written after the answer is not a failure of
        // the server; anything else (no answer) is.
        if (!(r.body && r.body.length > 1024 * 1024 && /EPIPE|ECONNRESET/.test(String(err)))) httpProblems.push(`${what} -> ${String(err)}`);
      }
    }

    // WebSocket: random frames on fresh connections with a read key.
    const wsProblems: string[] = [];
    const closes = new Map<number, number>();
    let frames = 0;
    for (let i = 0; i < WS_CONNECTIONS; i++) {
      const batch = Array.from({ length: FRAMES_PER_CONNECTION }, () => fuzzFrame(rand));
      frames += batch.length;
      const res = await fuzzConnection(wsUrl(gateway.url), { authorization: `Bearer ${keys[0] ?? ''}` }, batch);
      closes.set(res.close, (closes.get(res.close) ?? 0) + 1);
      if (res.malformed > 0) wsProblems.push(`connection ${i}: ${res.malformed} frames from the server that are not JSON messages`);
      if (!DOCUMENTED_CLOSES.has(res.close)) wsProblems.push(`connection ${i}: closed ${res.close} after ${batch.map((b) => b.label).join(',')}`);
      if (res.replies === 0) wsProblems.push(`connection ${i}: no answer at all`);
    }

    const features = procs.find((p) => p.name === 'features') as ChaosProcess;
    const wantSkipped = (t: FuzzTopic): number => (sent.get(t) ?? []).filter((b) => b.undecodable).length;
    /** What the counting consumers counted: the gateway per topic, the feature join on text.scored. */
    const counted = async (): Promise<{ what: string; want: number; got: number }[]> => {
      const gw = await gateway.metrics();
      const fx = await features.metrics();
      return [
        ...(['candles', 'features', 'predictions'] as const).map((t) => ({
          what: `gateway skipped ${t}`,
          want: wantSkipped(t),
          got: metricValue(gw, 'bitpredict_gateway_records_skipped_total', { topic: t }),
        })),
        {
          what: 'features skipped text.scored',
          want: wantSkipped('textScored'),
          got: metricValue(fx, 'bitpredict_features_texts_total', { outcome: 'invalid' }),
        },
      ];
    };
    let stuck: string[] = [];
    const settled = async (): Promise<boolean> => {
      stuck = [...(await behind()), ...(await counted()).filter((c) => c.got < c.want).map((c) => `${c.what} ${c.got}/${c.want}`)];
      return stuck.length === 0;
    };
    await waitFor(settled, 'every consumer to get past the bad records', 90_000).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${stuck.join('; ')}\n${procs.map((p) => `${p.name}: ${p.output().slice(-1500)}`).join('\n')}`);
    });
    const dlq = await tp.readAll('dlq');
    const dlqProblems: string[] = [];
    let lost = 0;
    let duplicated = 0;
    for (const [topic, groups] of Object.entries(DEAD_LETTERING) as [FuzzTopic, string[]][]) {
      for (const g of groups) {
        const group = tp.platform.kafka.groupId(g);
        const got = dlq.filter((d) => d.value?.source === tp.topic(topic) && d.value.consumerGroup === group);
        const want = sent.get(topic)?.length ?? 0;
        // Each DLQ record names its source offset: one per offset is the exactly-one-per-record check.
        const offsets = new Set(got.map((d) => `${d.value?.partition}:${d.value?.offset}`));
        lost += Math.max(0, want - offsets.size);
        duplicated += got.length - offsets.size;
        if (got.length !== want) {
          const kinds = new Map<string, number>();
          for (const d of got) kinds.set(d.value?.errorCode ?? '?', (kinds.get(d.value?.errorCode ?? '?') ?? 0) + 1);
          dlqProblems.push(`${g} on ${topic}: ${got.length} DLQ records for ${want} bad records (${[...kinds].map(([k, v]) => `${k} ${v}`).join(', ')})`);
        }
      }
    }
    const skipped = await counted();
    const alive = await Promise.all(procs.map(async (p) => (await fetch(`${p.url}/healthz`).catch(() => null))?.status ?? 0));
    const crashes = procs.reduce((n, p) => n + p.crashes(), 0);
    const fmt = (m: Map<number, number>): string =>
      [...m]
        .sort((a, b) => a[0] - b[0])
        .map(([k, v]) => `${k}x${v}`)
        .join(' ');
    const records = PER_TOPIC * FUZZ_TOPICS.length;
    recordChaos({
      scenario: 'fuzz',
      fault: `seed ${SEED}: ${records} bad records into 5 topics, ${HTTP_REQUESTS} HTTP requests, ${frames} WebSocket frames`,
      lost,
      duplicated,
      crashes,
      recoveryMs: null,
      maxLag: null,
      peakMemoryMb: Math.round(Math.max(...procs.map((p) => p.peakRssMb()))),
      records: records + HTTP_REQUESTS + frames,
      notes:
        `dlq ${dlq.length}; HTTP statuses ${fmt(statuses)}; WS closes ${fmt(closes)}; ${skipped.map((c) => `${c.what} ${c.got}/${c.want}`).join(', ')}; ` +
        `problems: http ${httpProblems.length}, ws ${wsProblems.length}, dlq ${dlqProblems.length}`,
    });

    expect(crashes, procs.map((p) => `${p.name}: ${p.output().slice(-1500)}`).join('\n')).toBe(0);
    expect(alive).toEqual(procs.map(() => 200));
    expect(dlqProblems).toEqual([]);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(skipped.filter((s) => s.got !== s.want)).toEqual([]);
    expect(httpProblems.slice(0, 20)).toEqual([]);
    expect(wsProblems.slice(0, 20)).toEqual([]);
  });
});
