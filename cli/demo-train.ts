// The demo's first model: once the history is replayed, a SMALL LSTM-attention model is trained in
// the background on the last year of replayed features (ending at the latest replayed time: a
// live model learns from recent data), in a temporary model store. It goes through the same
// champion/challenger rule as every retrain (trainer/retrain.ts): with no champion it is promoted,
// and announced on the demo's models topic for the predictor, only if its validation pinball loss
// beats the best baseline (persistence, EWMA, HAR-RV, GARCH) by the promotion margin. Until then,
// and if it does not, the demo serves the baselines, and says so.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../core/config.js';
import type { Platform } from '../core/runtime.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { createAdmin } from '../core/kafka/client.js';
import { errorMessage } from '../core/errors.js';
import { loadTf } from '../core/models/tf.js';
import { announce } from '../core/models/registry.js';
import { readFeaturesWithSource } from '../trainer/data.js';
import { retrain } from '../trainer/retrain.js';
import { startSigning } from '../core/models/signing.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Small enough to finish in a few minutes on two shared cores, big enough to be a real model. */
export const DEMO_MODEL = { trainDays: 335, valDays: 30, T: 24, units: 8, epochs: 3, seed: 42 } as const;
/** Thrown from the progress callback to stop the training at shutdown; never leaves this module. */
class Stopping extends Error {}

/** Feature vectors read before the training range so its first windows have their T steps. */
const WARMUP_MS = 100 * HOUR;

export interface DemoTrainOptions {
  platform: Platform;
  config: Config;
  lifecycle: Lifecycle;
  signal: AbortSignal;
  /** The end of the replayed history: the model's data ends at the last feature vector up to here. */
  historyEnd: number;
  say(line: string): void;
}

/** Until the feature processor has read every replayed candle (at most 10 minutes), or the demo stops. */
async function waitForFeatures(platform: Platform, signal: { aborted: boolean }): Promise<void> {
  const admin = await createAdmin(platform.kafka);
  try {
    const group = platform.kafka.groupId('features');
    const topic = platform.kafka.topic('candles');
    for (let i = 0; i < 6000 && !signal.aborted; i++) {
      const lag = await admin.groupLag(group, topic);
      if (lag.length > 0 && lag.every((p) => p.lag === 0)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.close();
  }
}

async function trainOnce(o: DemoTrainOptions, storeDir: string, signal: { aborted: boolean }): Promise<void> {
  const { platform, config, say } = o;
  const { symbol, interval } = config.replay;
  await waitForFeatures(platform, signal);
  const span = (DEMO_MODEL.trainDays + DEMO_MODEL.valDays) * DAY;
  const { series, source } = await readFeaturesWithSource(platform, { symbol, interval, from: o.historyEnd - span - WARMUP_MS, to: o.historyEnd + 1 });
  const last = series[series.length - 1];
  if (signal.aborted) return;
  if (last === undefined || last.eventTime - series[0]!.eventTime < 60 * DAY) {
    const days = last === undefined ? 0 : (last.eventTime - series[0]!.eventTime) / DAY;
    say(`not training a first model: only ${days.toFixed(0)} days of replayed history (60 needed); the baselines serve`);
    return;
  }
  // The window ends at the latest replayed time; with a short history the training range shrinks.
  const valTo = last.eventTime;
  const trainTo = valTo - DEMO_MODEL.valDays * DAY;
  const trainFrom = Math.max(trainTo - DEMO_MODEL.trainDays * DAY, series[0]!.eventTime + WARMUP_MS);
  say(
    `training first model on ${((trainTo - trainFrom) / DAY).toFixed(0)} days to ${new Date(trainTo).toISOString()}, validating on the ${DEMO_MODEL.valDays} days after (T ${DEMO_MODEL.T}, ${DEMO_MODEL.units} units, ${DEMO_MODEL.epochs} epochs); the baselines serve meanwhile`,
  );
  const signing = startSigning(config.models, platform.logger);
  const loaded = await loadTf();
  const started = Date.now();
  const out = await retrain({
    config: { ...config, models: { ...config.models, storeDir } },
    loaded,
    series,
    symbol,
    interval,
    trainFrom,
    trainTo,
    valTo,
    T: DEMO_MODEL.T,
    seed: DEMO_MODEL.seed,
    epochs: DEMO_MODEL.epochs,
    units: DEMO_MODEL.units,
    purpose: 'live',
    log: () => undefined,
    progress: () => {
      // Ctrl-C stops the training at the next batch instead of after the last epoch.
      if (signal.aborted) throw new Stopping('the demo is stopping');
    },
    onEpoch: (e, epochs) =>
      say(
        `training first model: epoch ${e.epoch}/${epochs}, loss ${e.loss.toFixed(4)}${e.valLoss === null ? '' : `, validation ${e.valLoss.toFixed(4)}`} (${e.seconds.toFixed(0)} s)`,
      ),
    announce: (meta) => announce(platform, meta, storeDir, config.models.artifactChunkBytes, signing),
    lineage: { sources: [source] },
  });
  const took = ((Date.now() - started) / 1000).toFixed(0);
  say(
    out.decision.promote
      ? `first model ${out.version} promoted after ${took} s and announced to the predictor: ${out.decision.reason}`
      : `first model NOT promoted after ${took} s: it does not beat the baselines on validation, so the baselines keep serving (${out.decision.reason})`,
  );
}

/**
 * Starts the first model's training in the background and returns at once. Its model store is a
 * temporary folder removed at shutdown; shutdown waits for the training to stop (at the next batch).
 */
export async function startFirstModel(o: DemoTrainOptions): Promise<void> {
  const storeDir = await mkdtemp(join(tmpdir(), 'bitpredict-demo-models-'));
  // Stops on Ctrl-C (the demo's abort) and on any shutdown (--exit-after-replay does not abort).
  let shuttingDown = false;
  const signal = {
    get aborted(): boolean {
      return shuttingDown || o.signal.aborted;
    },
  };
  const training = trainOnce(o, storeDir, signal).catch((err: unknown) => {
    if (err instanceof Stopping || signal.aborted) o.say('first model training stopped');
    else o.say(`first model training failed (${errorMessage(err)}); the baselines keep serving`);
  });
  o.lifecycle.onShutdown('stop the first model training', async () => {
    shuttingDown = true;
    await training;
    await rm(storeDir, { recursive: true, force: true });
  });
}
