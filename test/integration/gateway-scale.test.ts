// Two real gateway instances side by side on the same topics and Redis, as behind a load balancer:
// each consumes the predictions topic in a consumer group of its own, so every prediction reaches
// the clients of both; their sequence numbers are their own (different epochs), so a client that
// moves from one to the other with a resume point is told so (gap, reason epoch) and gets a
// snapshot; stopping one instance closes its clients with 1001 and leaves the other serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../helpers/platform.js';
import {
  closeOf,
  connectWs,
  prediction,
  producePredictions,
  startGateway,
  warmUp,
  wsUrl,
  type StartedGateway,
  type TestWsClient,
} from '../helpers/ws-client.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { redisKeys } from '../../core/redis.js';

const CH = 'predictions:BTCUSDT';
/** A record's Kafka position in a message, and the gateway's cursor in subscribed (docs/websocket.md). */
const POS: unknown = [expect.any(Number), expect.any(Number)];
const CURSOR: unknown = expect.any(Object);

describe('two gateway instances on the same topics and Redis', () => {
  let tp: TestPlatform;
  let producer: Producer;
  let a: StartedGateway;
  let b: StartedGateway;
  const fatal: unknown[] = [];
  const clients: TestWsClient[] = [];
  const snapshot = prediction(0, { modelVersion: 'snapshot' });

  beforeAll(async () => {
    tp = await createTestPlatform('gwscale');
    producer = await createProducer(tp.platform.kafka);
    await tp.redis.set(redisKeys(tp.config.redis.keyPrefix).predictionsLatest('BTCUSDT'), JSON.stringify(snapshot));
    const overrides = { BITPREDICT_GATEWAY_AUTH: 'open', BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true' } as const;
    [a, b] = await Promise.all([startGateway(tp, { label: 'gwscale-a', fatal, overrides }), startGateway(tp, { label: 'gwscale-b', fatal, overrides })]);
    await Promise.all([warmUp(tp, producer, a.gateway), warmUp(tp, producer, b.gateway)]);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await a?.gateway.stop();
    await b?.gateway.stop();
    await producer?.close();
    await tp?.cleanup();
  });

  async function client(g: StartedGateway): Promise<{ c: TestWsClient; epoch: string }> {
    const c = await connectWs(wsUrl(g.gateway.url()));
    clients.push(c);
    const hello = await c.next();
    expect(hello.type).toBe('hello');
    return { c, epoch: hello.epoch as string };
  }

  it('both instances deliver every prediction; epochs differ; a resume across instances gets an epoch gap; stopping one leaves the other', async () => {
    const onA = await client(a);
    const onB = await client(b);
    expect(onA.epoch).not.toBe(onB.epoch);
    for (const { c } of [onA, onB]) {
      c.send({ op: 'subscribe', channel: CH });
      expect(await c.waitFor((m) => m.type === 'subscribed', 'subscribed')).toMatchObject({ channel: CH, seq: 0, snapshot: [snapshot] });
    }

    const preds = [1, 2, 3, 4, 5].map((i) => prediction(i));
    await producePredictions(tp, producer, preds);
    for (const { c } of [onA, onB]) {
      for (let i = 0; i < preds.length; i++) {
        expect(await c.waitFor((m) => m.type === 'prediction', `prediction ${i + 1}`)).toEqual({
          type: 'prediction',
          channel: CH,
          seq: i + 1,
          pos: POS,
          data: preds[i],
        });
      }
    }

    // A's client reconnects to B with A's resume point: B's numbers are not A's.
    const moved = await client(b);
    moved.c.send({ op: 'subscribe', channel: CH, resume: { epoch: onA.epoch, seq: 5 }, id: 'move' });
    expect(await moved.c.next()).toMatchObject({ type: 'gap', channel: CH, reason: 'epoch', to: 5, epoch: onB.epoch, id: 'move' });
    expect(await moved.c.next()).toEqual({ type: 'subscribed', channel: CH, seq: 5, cursor: CURSOR, snapshot: [snapshot], id: 'move' });

    await a.gateway.stop();
    const close = await closeOf(onA.c, "the 1001 close of A's client");
    expect(close.code).toBe(1001);

    const more = [6, 7].map((i) => prediction(i));
    await producePredictions(tp, producer, more);
    for (const { c } of [onB, moved]) {
      for (let i = 0; i < more.length; i++) {
        expect(await c.waitFor((m) => m.type === 'prediction', `prediction ${i + 6} after A stopped`)).toEqual({
          type: 'prediction',
          channel: CH,
          seq: 6 + i,
          pos: POS,
          data: more[i],
        });
      }
      expect(c.isClosed).toBe(false);
    }
    expect(onA.c.all.filter((m) => m.type === 'prediction')).toHaveLength(5);
    expect(fatal).toEqual([]);
  });
});
