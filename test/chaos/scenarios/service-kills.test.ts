// Chaos: SIGKILL every service at random points. The replay producer, the sentiment processor,
// the feature processor, the predictor, the gateway and the trainer run as real CLI processes
// (exactly-once processing) while real hourly candles are replayed and texts arrive; each is
// SIGKILLed N times at seeded random moments and restarted at once, as a supervisor would. After
// the replay, every output topic (market.candles, text.scored, features, predictions; read
// committed) holds each expected record exactly once, every service answers ready again, and no
// process exited unless killed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { HOURLY_MERGED, hasSharedData } from '../../helpers/shared-data.js';
import { createProducer, type Producer } from '../../../core/kafka/producer.js';
import { recordChaos } from '../report.js';
import { atScale, seededRandom } from '../chaos-a-common.js';
import { serviceProcess, type ServiceProcess } from '../chaos-a-services.js';
import { chaosTexts, HOUR, outputLoss, pipelineEnv, replayToEnd, sendTexts, startWorkers, tails, waitAllReady, workerProcess } from '../chaos-a-pipeline.js';

const FROM = Date.UTC(2022, 2, 1);

describe.skipIf(!hasSharedData(HOURLY_MERGED))('chaos: SIGKILL each service at random points', () => {
  const candles = atScale({ ci: 160, full: 2_000 });
  const rate = atScale({ ci: 20, full: 40 });
  const killsEach = atScale({ ci: 1, full: 3 });
  const textCount = atScale({ ci: 120, full: 1_000 });
  const TO = FROM + candles * HOUR;
  const rng = seededRandom('service-kills');
  let tp: TestPlatform;
  let producer: Producer;
  const procs: ServiceProcess[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('chaos-kill');
    producer = await createProducer(tp.platform.kafka);
  });

  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    await producer?.close();
    await tp?.cleanup();
  });

  it('loses and duplicates nothing in any output topic and every service comes back', async () => {
    const env = pipelineEnv(tp, { from: FROM, to: TO, rate });
    const workers: ServiceProcess[] = [];
    for (const name of ['sentiment', 'features', 'predictor', 'gateway', 'trainer']) workers.push(await workerProcess(name, env));
    const replay = serviceProcess({ name: 'replay', command: 'replay', env, port: null });
    procs.push(...workers, replay);
    const sampler = setInterval(() => procs.forEach((p) => p.sample()), 500);
    const phases: string[] = [];
    let phaseStart = Date.now();
    const phase = (name: string): void => {
      phases.push(`${name} ${((Date.now() - phaseStart) / 1000).toFixed(1)} s`);
      phaseStart = Date.now();
    };
    try {
      await startWorkers(workers, procs);
      phase('start');
      // Texts arrive throughout the replay, in small batches, like a live feed.
      const texts = chaosTexts('kill', textCount, FROM, candles * HOUR);
      const replayMs = (candles / rate) * 1000;
      const feeder = (async () => {
        const batch = Math.ceil(textCount / 20);
        for (let i = 0; i < textCount; i += batch) {
          await sendTexts(tp, producer, texts.slice(i, i + batch));
          await new Promise((r) => setTimeout(r, replayMs / 20));
        }
      })();

      const t0 = Date.now();
      replay.start();
      // Each service is killed killsEach times at random moments while the replay runs, and restarted at once.
      const plan = procs
        .flatMap((p) => Array.from({ length: killsEach }, () => ({ at: rng.int(500, Math.floor(replayMs * 0.7)), p })))
        .sort((a, b) => a.at - b.at);
      const killed: string[] = [];
      let lastKill = t0;
      for (const k of plan) {
        const wait = t0 + k.at - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (!k.p.running) continue; // the replay already done
        await k.p.kill('SIGKILL');
        lastKill = Date.now();
        killed.push(`${k.p.name}@${k.at}ms`);
        k.p.start();
      }
      await feeder;
      // The replay resumes after what it had published; it ends when the range is done.
      const replayRuns = await replayToEnd(replay);
      phase('replay with kills');
      const loss = await outputLoss(tp, FROM, TO, texts);
      await waitAllReady(workers, procs, 'every service ready again after the kills', 120_000);
      const recoveryMs = Date.now() - lastKill;
      phase('outputs complete and ready');
      const crashes = procs.reduce((n, p) => n + p.crashes, 0);
      recordChaos({
        scenario: 'service-kills',
        fault: `SIGKILL ${killed.length}x (replay, sentiment, features, predictor, gateway, trainer; ${killsEach} each) at random points, restarted at once`,
        lost: loss.lost,
        duplicated: loss.duplicated,
        crashes,
        recoveryMs,
        maxLag: null,
        peakMemoryMb: Math.round(Math.max(...procs.map((p) => p.peakRssMb))),
        records: loss.records,
        notes: `seed ${rng.seed}; kills ${killed.join(' ')}; replay runs ${replayRuns}; exactly-once; ${loss.dlq.length} DLQ; recovery = last kill to every output complete and every service ready; peak MB = largest RSS of one service; ${phases.join(', ')}`,
      });
      expect(killed.length, `kills done: ${killed.join(' ')}`).toBeGreaterThanOrEqual(workers.length * killsEach);
      for (const [topic, l] of Object.entries(loss.byTopic)) expect(l.examples, `${topic} (seed ${rng.seed}, kills ${killed.join(' ')})`).toEqual([]);
      expect(loss.lost + loss.duplicated).toBe(0);
      expect(loss.dlq).toEqual([]);
      expect(crashes, tails(procs)).toBe(0);
    } finally {
      clearInterval(sampler);
      for (const p of procs) await p.kill('SIGTERM');
    }
  });
});
