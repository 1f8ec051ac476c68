// Resume across gateway replicas (docs/websocket.md, "Sequence numbers, resume and gaps"): two real
// gateway services read the same topics (three partitions, so a channel spans several), a client
// subscribes on A, drops, and reconnects to B with its Kafka cursor while predictions keep being
// published. Every prediction of the channel must arrive exactly once over the two connections,
// in order per series (symbol:interval, one partition each), with no gap. A third replica started
// after the client's point must answer an honest gap instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../helpers/platform.js';
import {
  connectWs,
  prediction,
  producePredictions,
  startGateway,
  warmUp,
  wsUrl,
  type ServerMessage,
  type StartedGateway,
  type TestWsClient,
} from '../helpers/ws-client.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import type { Prediction } from '../../schemas/types.js';

const CH = 'predictions:BTCUSDT';
const INTERVALS = ['1m', '5m', '15m', '1h', '4h', '1d'];

let tp: TestPlatform;
let producer: Producer;
let a: StartedGateway;
let b: StartedGateway;
const started: StartedGateway[] = [];
const fatal: unknown[] = [];
const clients: TestWsClient[] = [];

beforeAll(async () => {
  tp = await createTestPlatform('gwrep', { BITPREDICT_TOPIC_PARTITIONS: '3' });
  producer = await createProducer(tp.platform.kafka);
  const overrides = { BITPREDICT_GATEWAY_AUTH: 'open', BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true' } as const;
  [a, b] = await Promise.all([startGateway(tp, { label: 'gwrep-a', fatal, overrides }), startGateway(tp, { label: 'gwrep-b', fatal, overrides })]);
  started.push(a, b);
  await Promise.all([warmUp(tp, producer, a.gateway), warmUp(tp, producer, b.gateway)]);
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const g of started) await g.gateway.stop();
  await producer?.close();
  await tp?.cleanup();
});

async function open(g: StartedGateway): Promise<{ c: TestWsClient; epoch: string }> {
  const c = await connectWs(wsUrl(g.gateway.url()));
  clients.push(c);
  const hello = await c.next();
  expect(hello.type).toBe('hello');
  return { c, epoch: hello.epoch as string };
}

/** The client's side of the protocol: the cursor from subscribed, raised by each message's pos. */
function track(cursor: Record<string, number>, messages: ServerMessage[]): void {
  for (const m of messages) {
    const [p, o] = m.pos as [number, number];
    cursor[String(p)] = Math.max(cursor[String(p)] ?? -1, o);
  }
}

const id = (p: Prediction): string => `${p.interval}@${p.eventTime}`;
const pushed = (c: TestWsClient): ServerMessage[] => c.all.filter((m) => m.type === 'prediction' && m.channel === CH);

describe('two gateway replicas on the same topics', () => {
  it('a client that drops from A resumes on B with its cursor while predictions are published: 0 gaps, 0 duplicates, every one in order', async () => {
    const onA = await open(a);
    onA.c.send({ op: 'subscribe', channel: CH, id: 'a' });
    const subA = await onA.c.waitFor((m) => m.type === 'subscribed', 'subscribed on A');
    const cursor = { ...(subA.cursor as Record<string, number>) };

    // Predictions of six series of the channel, interleaved with another symbol's on the same
    // partitions, published in small batches for as long as the drop and the reconnect take.
    const sent: Prediction[] = [];
    let i = 0;
    const publishBatch = async (): Promise<void> => {
      const batch: Prediction[] = [];
      for (let k = 0; k < 6; k++, i++) {
        batch.push(prediction(i, { interval: INTERVALS[i % INTERVALS.length] }));
        if (i % 4 === 0) batch.push(prediction(i, { symbol: 'ETHUSDT', interval: INTERVALS[i % INTERVALS.length] }));
      }
      await producePredictions(tp, producer, batch);
      sent.push(...batch.filter((p) => p.symbol === 'BTCUSDT'));
    };
    let publishing = true;
    const background = (async () => {
      while (publishing) {
        await publishBatch();
        await new Promise((r) => setTimeout(r, 15));
      }
    })();

    let gotA: ServerMessage[] = [];
    let onB: { c: TestWsClient; epoch: string };
    let subB: ServerMessage;
    try {
      await waitFor(() => pushed(onA.c).length >= 40, 'A to deliver 40 predictions', 30_000);
      onA.c.close();
      await onA.c.closed;
      gotA = pushed(onA.c);
      track(cursor, gotA);
      const lastSeq = gotA.at(-1)?.seq as number;

      onB = await open(b);
      expect(onB.epoch).not.toBe(onA.epoch);
      onB.c.send({ op: 'subscribe', channel: CH, resume: { epoch: onA.epoch, seq: lastSeq, cursor }, id: 'b' });
      subB = await onB.c.waitFor((m) => m.type === 'subscribed' || m.type === 'gap', 'the resume on B');
      expect(subB).toMatchObject({ type: 'subscribed', channel: CH, resumed: true, id: 'b' });

      // Some more while connected to B, then stop and wait for B to have delivered every one.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      // Stopped on a failure too, so that nothing publishes after the test.
      publishing = false;
      await background;
    }
    await publishBatch();
    await waitFor(() => gotA.length + pushed(onB.c).length >= sent.length, `all ${sent.length} predictions over A and B`, 30_000);
    // Anything extra (a duplicate) would have arrived by now with the rest.
    await new Promise((r) => setTimeout(r, 300));

    const gotB = pushed(onB.c);
    expect(onB.c.all.filter((m) => m.type === 'gap')).toEqual([]);
    const received = [...gotA, ...gotB].map((m) => id(m.data as Prediction));
    expect(new Set(received).size, 'duplicates').toBe(received.length);
    expect([...received].sort()).toEqual(sent.map(id).sort());
    // In order per series (one key, one partition), across the two connections.
    for (const interval of INTERVALS) {
      const times = [...gotA, ...gotB].map((m) => m.data as Prediction).filter((p) => p.interval === interval);
      expect(times.map((p) => p.eventTime)).toEqual(sent.filter((p) => p.interval === interval).map((p) => p.eventTime));
    }
    // The channel spans several partitions, and B delivered some of what was published after the drop.
    expect(new Set([...gotA, ...gotB].map((m) => (m.pos as number[])[0])).size).toBeGreaterThan(1);
    expect(gotB.length).toBeGreaterThan(0);
    // Within B's connection: live seqs consecutive after the replay.
    const live = gotB.slice(subB.replayed as number).map((m) => m.seq as number);
    live.forEach((s, k) => expect(s).toBe((subB.seq as number) + 1 + k));
    expect(fatal).toEqual([]);
  });

  it('a replica started after the client last heard answers a gap (reason epoch) and a snapshot, not a silent hole', async () => {
    const onA = await open(a);
    onA.c.send({ op: 'subscribe', channel: CH });
    const sub = await onA.c.waitFor((m) => m.type === 'subscribed', 'subscribed on A');
    const cursor = { ...(sub.cursor as Record<string, number>) };
    const before = [prediction(5000, { interval: '1h' }), prediction(5001, { interval: '1m' })];
    await producePredictions(tp, producer, before);
    await waitFor(() => pushed(onA.c).length === 2, 'A to deliver both');
    onA.c.close();
    track(cursor, pushed(onA.c));
    // C starts reading after the client's point; records published before it are unknown to it.
    await producePredictions(tp, producer, [prediction(5002, { interval: '1h' }), prediction(5003, { interval: '1m' })]);
    const c = await startGateway(tp, {
      label: 'gwrep-c',
      fatal,
      overrides: { BITPREDICT_GATEWAY_AUTH: 'open', BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true' },
    });
    started.push(c);
    await warmUp(tp, producer, c.gateway);
    await producePredictions(tp, producer, [prediction(5004, { interval: '1h' })]);
    await waitFor(() => c.gateway.hub.channelCount() > 1, 'C to read a BTCUSDT record');
    const onC = await open(c);
    onC.c.send({ op: 'subscribe', channel: CH, resume: { epoch: onA.epoch, seq: 2, cursor }, id: 'c' });
    expect(await onC.c.next()).toMatchObject({ type: 'gap', channel: CH, reason: 'epoch', from: null, id: 'c' });
    const after = await onC.c.next();
    expect(after).toMatchObject({ type: 'subscribed', channel: CH, id: 'c' });
    expect(Array.isArray(after.snapshot)).toBe(true);
  });
});
