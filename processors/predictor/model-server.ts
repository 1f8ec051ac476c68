// The live champion: loads an announced artifact (kafka://model-artifacts/<name>/<version>, read
// from Kafka by core/models/kafka-artifact.ts, or file://<dir>), checks it against what this
// service computes (feature-set version, feature columns, expiry), turns it into the plain-JS fast
// predictor and swaps it in with one assignment. The record handler reads `current()` once per
// record, so each record is predicted by exactly one model. A refused artifact (corrupt,
// incompatible, expired, bytes missing from Kafka) leaves the previous champion serving; it is
// logged and counted.
// The models topic follower (a consumer in its own group per process start, from the beginning)
// feeds announcements in order; the registry's champion is the fallback when the topic has none.
// Announcements are signed (core/models/signing.ts): one unsigned, signed with a key this service
// does not accept, changed after signing, signed before one already accepted (a replay), or whose
// artifact bytes differ from the signed digest is refused (reason `signature`) and the champion
// keeps serving. The artifact is read into memory once, and the bytes checked are the bytes loaded.
// Nothing the predictor reads from Redis decides the served model (Redis holds features only).
import { BitPredictError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Platform } from '../../core/runtime.js';
import { counter, gauge, type Registry } from '../../core/metrics.js';
import { followFromStart, type Follower } from '../../core/kafka/follow.js';
import type { ModelAnnouncement } from '../../schemas/types.js';
import { FEATURE_SET_VERSION } from '../../core/features/indicators.js';
import { FEATURE_NAMES, type Normalizer } from '../../core/models/domain/dataset.js';
import { loadArtifact, loadArtifactFrom, memorySource, artifactDir, type ArtifactMeta, type LoadedArtifact } from '../../core/models/artifact.js';
import { artifactsTopic, parseArtifactUri, readArtifactDir, readArtifactFiles } from '../../core/models/kafka-artifact.js';
import { artifactDigest, verifyAnnouncement, type ModelSigning } from '../../core/models/signing.js';
import type { KafkaClient } from '../../core/kafka/client.js';
import { createFastPredictor, type FastPredictor } from '../../core/models/fast.js';
import { readRegistry } from '../../core/models/registry.js';
import { loadTf, type TfModule } from '../../core/models/tf.js';
import type { Config } from '../../core/config.js';

export interface ServingModel {
  name: string;
  version: string;
  T: number;
  featureSetVersion: string;
  normalizer: Normalizer;
  /** ms, or null for no expiry */
  expiresAt: number | null;
  /** The forward pass with the artifact's forecast head: predictOne gives one distribution per horizon (fast.horizons). */
  fast: FastPredictor;
  meta: ArtifactMeta;
}

export interface ModelServer {
  /** The champion (possibly expired: see isExpired), or null. Read once per record. */
  current(): ServingModel | null;
  isExpired(m: ServingModel, now: number): boolean;
  /** Loads an artifact folder and swaps it in; false (old champion kept) when refused. */
  loadDir(dir: string, source: string): Promise<boolean>;
  /**
   * Loads an announced artifact, kafka:// (needs `artifacts` in the options) or file://, once its
   * signature (the record's headers, for the topic it was read from) checks out.
   */
  loadAnnouncement(a: ModelAnnouncement, record: AnnouncementRecord): Promise<boolean>;
  /** Readiness text: `<name>@<version>`, `expired <version>`, or null without a champion. */
  status(now: number): string | null;
  /** The last refusal, for readiness (null when none). */
  readonly lastRefusal: string | null;
}

/** Where an announcement was read: its topic and the record's headers (the signature). */
export interface AnnouncementRecord {
  topic: string;
  headers: Readonly<Record<string, Buffer | string | undefined>>;
}

export interface ModelServerOptions {
  registry: Registry;
  logger: Logger;
  now: () => number;
  /** The accepted signing keys (modelSigningFromConfig); mode off loads unsigned announcements with a warning. */
  signing: ModelSigning;
  /** Where kafka:// artifacts are read from; without it such announcements are refused (reason uri). */
  artifacts?: {
    client: KafkaClient;
    maxBytes: number;
    timeoutMs: number;
  };
}

type RefusalReason = 'corrupt' | 'incompatible' | 'expired' | 'uri' | 'unavailable' | 'signature';

const EXPECT = { featureSetVersion: FEATURE_SET_VERSION, featureColumns: FEATURE_NAMES };

export function createModelServer(opts: ModelServerOptions): ModelServer {
  const { registry, logger, now } = opts;
  const failures = counter(
    registry,
    'bitpredict_predictor_model_load_failures_total',
    'Announced model artifacts the predictor refused (the previous champion kept serving)',
    ['reason'],
  );
  const expiresIn = gauge(
    registry,
    'bitpredict_predictor_model_expires_in_seconds',
    'Seconds until the champion expires (negative: expired, the baseline serves; +Inf: no expiry; no series: no champion)',
    ['version'],
  );
  const loads = counter(registry, 'bitpredict_predictor_model_loads_total', 'Champion models loaded and swapped in');
  let serving: ServingModel | null = null;
  let lastRefusal: string | null = null;
  /** The signing time of the latest announcement whose signature checked out: older ones are replays. */
  let latestSignedAt = Number.NEGATIVE_INFINITY;

  function refuse(reason: RefusalReason, source: string, message: string): false {
    failures.inc({ reason });
    lastRefusal = `${source}: ${message}`;
    logger.error({ source, reason, keeping: serving ? `${serving.name}@${serving.version}` : 'baseline' }, `model refused: ${message}`);
    return false;
  }

  function updateGauge(t: number): void {
    expiresIn.reset();
    if (serving !== null) expiresIn.set({ version: serving.version }, serving.expiresAt === null ? Number.POSITIVE_INFINITY : (serving.expiresAt - t) / 1000);
  }

  const server: ModelServer = {
    current: () => serving,
    isExpired: (m, t) => m.expiresAt !== null && t >= m.expiresAt,
    get lastRefusal() {
      return lastRefusal;
    },
    status(t) {
      updateGauge(t);
      if (serving === null) return null;
      return server.isExpired(serving, t) ? `expired ${serving.version}` : `${serving.name}@${serving.version}`;
    },
    loadDir: (dir, source) => swapIn(async (tf) => loadArtifact(tf, dir, EXPECT), source),
    async loadAnnouncement(a, record) {
      const source = `announcement ${a.name}@${a.version}`;
      const v = verifyAnnouncement(a, record.headers, opts.signing, record.topic);
      if (!v.ok) return refuse('signature', source, `${v.message}; check BITPREDICT_MODEL_SIGNING_KEY(_FILE) of the publisher and this predictor`);
      if (v.signed) {
        if (v.signedAt <= latestSignedAt)
          return refuse(
            'signature',
            source,
            `replayed announcement refused: signed at ${new Date(v.signedAt).toISOString()}, not after the announcement already accepted (signed at ${new Date(latestSignedAt).toISOString()})`,
          );
        latestSignedAt = v.signedAt;
      } else {
        logger.warn({ source }, 'announcement loaded without a signature check: BITPREDICT_MODEL_SIGNING=off');
      }
      const signedDigest = v.signed ? v.artifactSha256 : null;
      /** Refuses bytes that are not the ones signed; null when they are (or signing is off). */
      const digestProblem = (files: ReadonlyMap<string, Buffer>): string | null => {
        if (signedDigest === null) return null;
        const got = artifactDigest(files);
        return got === signedDigest
          ? null
          : `artifact ${a.artifactUri}: its files' digest ${got} is not the signed ${signedDigest} (bytes changed after signing)`;
      };
      const kafka = parseArtifactUri(a.artifactUri);
      if (!a.artifactUri.startsWith('file://') && kafka === null)
        return refuse('uri', source, `artifactUri ${JSON.stringify(a.artifactUri)} is neither kafka://<topic>/<name>/<version> nor a file:// URI`);
      if (a.expiresAt !== null && now() >= a.expiresAt)
        return refuse('expired', source, `model ${a.name}@${a.version} expired at ${new Date(a.expiresAt).toISOString()}`);
      if (kafka === null) {
        let local: Map<string, Buffer>;
        try {
          local = await readArtifactDir(a.artifactUri.slice('file://'.length));
        } catch (err) {
          return refuse('corrupt', source, errorMessage(err));
        }
        const bad = digestProblem(local);
        if (bad !== null) return refuse('signature', source, bad);
        return swapIn(async (tf) => loadArtifactFrom(tf, memorySource(a.artifactUri.slice('file://'.length), local), EXPECT), source);
      }
      const from = opts.artifacts;
      if (from === undefined) return refuse('uri', source, `artifactUri ${a.artifactUri}: this model server reads no kafka:// artifacts`);
      if (kafka.topic !== artifactsTopic(from.client))
        return refuse(
          'uri',
          source,
          `artifactUri ${a.artifactUri} names topic ${kafka.topic}, this service reads artifacts from ${artifactsTopic(from.client)}`,
        );
      if (kafka.name !== a.name || kafka.version !== a.version)
        return refuse('uri', source, `artifactUri ${a.artifactUri} is not the announced ${a.name}/${a.version}`);
      let files: Map<string, Buffer>;
      try {
        files = await readArtifactFiles(from.client, a.artifactUri, {
          maxBytes: from.maxBytes,
          timeoutMs: from.timeoutMs,
          // Under the models follower's group prefix, so the same ACL grants both.
          groupId: from.client.privateGroupId('predictor-models-artifact'),
        });
      } catch (err) {
        // Bytes that never arrived, or Kafka not answering in time, may come good on a re-announce;
        // bytes that arrived damaged are a corrupt artifact.
        const missing = err instanceof BitPredictError && (err.code === 'ERR_NOT_FOUND' || err.retryable);
        return refuse(missing ? 'unavailable' : 'corrupt', source, errorMessage(err));
      }
      const bad = digestProblem(files);
      if (bad !== null) return refuse('signature', source, bad);
      return swapIn(async (tf) => {
        const loaded = await loadArtifactFrom(tf, memorySource(a.artifactUri, files), EXPECT);
        if (loaded.meta.name !== a.name || loaded.meta.version !== a.version) {
          loaded.model.dispose();
          throw new BitPredictError(
            'ERR_VALIDATION',
            `${a.artifactUri}/meta.json: holds ${loaded.meta.name}/${loaded.meta.version}, the announcement is for ${a.name}/${a.version}`,
          );
        }
        return loaded;
      }, source);
    },
  };

  /** Loads an artifact and swaps it in, or refuses it (the previous champion keeps serving). */
  async function swapIn(load: (tf: TfModule) => Promise<LoadedArtifact>, source: string): Promise<boolean> {
    const { tf } = await loadTf();
    let loaded;
    try {
      loaded = await load(tf);
    } catch (err) {
      const msg = errorMessage(err);
      // A model without a servable distributional head (old point-forecast artifact, crossing
      // shapes, bad target scales) is a model this service cannot serve, not a damaged file.
      const forecast = err instanceof BitPredictError && err.code === 'ERR_FORECAST_INVALID';
      return refuse(forecast || /featureSetVersion|featureColumns/.test(msg) ? 'incompatible' : 'corrupt', source, msg);
    }
    const { model, meta } = loaded;
    let fast: FastPredictor;
    try {
      fast = createFastPredictor(model, meta.forecast);
    } catch (err) {
      return refuse('incompatible', source, errorMessage(err));
    } finally {
      model.dispose();
    }
    const expiresAt = meta.expiresAt === null ? null : Date.parse(meta.expiresAt);
    if (expiresAt !== null && Number.isNaN(expiresAt))
      return refuse('corrupt', source, `meta.json expiresAt ${JSON.stringify(meta.expiresAt)} is not an ISO time`);
    const t = now();
    if (expiresAt !== null && t >= expiresAt) return refuse('expired', source, `model ${meta.name}@${meta.version} expired at ${meta.expiresAt ?? ''}`);
    serving = {
      name: meta.name,
      version: meta.version,
      T: meta.T,
      featureSetVersion: meta.featureSetVersion,
      normalizer: meta.normalizer,
      expiresAt,
      fast,
      meta,
    };
    lastRefusal = null;
    loads.inc();
    updateGauge(t);
    logger.info({ model: meta.name, version: meta.version, T: meta.T, expiresAt: meta.expiresAt, source }, 'champion model serving');
    return true;
  }
  return server;
}

export interface ModelFollower {
  /** Resolves once the topic has been read up to its end at start (or after `catchUpMs`). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Follows the compacted models topic from the beginning in a group of its own (one per process
 * start), keeping only records keyed `models.name`; announcements are applied in order, so
 * the latest loadable one wins. After the initial catch-up, with nothing serving, the store's
 * registry champion is loaded (the topic may be empty, or its latest record refused).
 */
export function createModelFollower(opts: {
  platform: Platform;
  models: Pick<Config['models'], 'name' | 'storeDir'>;
  server: ModelServer;
  logger: Logger;
  catchUpMs?: number;
}): ModelFollower {
  const { platform, server, logger, models } = opts;
  const topic = platform.kafka.topic('models');
  const name = models.name;
  let follower: Follower | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  const enqueue = (work: () => Promise<unknown>): Promise<unknown> =>
    (chain = chain.then(work).catch((err: unknown) => logger.error({ err }, 'model load failed')));

  async function registryChampion(): Promise<void> {
    if (server.current() !== null) return;
    let champion: string | null;
    try {
      champion = (await readRegistry(models.storeDir, name)).champion;
    } catch (err) {
      logger.warn({ err }, 'model registry unreadable; baseline serves');
      return;
    }
    if (champion === null) return;
    await server.loadDir(artifactDir(models.storeDir, name, champion), `registry ${name}@${champion}`);
  }

  return {
    async start() {
      follower = await followFromStart({
        client: platform.kafka,
        topic,
        groupId: platform.kafka.privateGroupId('predictor-models'),
        logger,
        ...(opts.catchUpMs === undefined ? {} : { catchUpMs: opts.catchUpMs }),
        onMessage: async (message) => {
          const key = message.key?.toString() ?? null;
          if (key !== name) return;
          if (message.value === null) {
            logger.warn({ model: name }, 'models topic tombstone ignored: the current champion keeps serving');
            return;
          }
          const value = message.value;
          await enqueue(async () => {
            const a = await platform.serde.decode('models', value);
            if (a.name !== name) throw new BitPredictError('ERR_VALIDATION', `models record keyed ${name} announces ${a.name}`);
            await server.loadAnnouncement(a, { topic, headers: message.headers });
          });
        },
      });
      await enqueue(registryChampion);
    },
    async stop() {
      const f = follower;
      follower = null;
      if (f) await f.stop();
      await chain;
    },
  };
}
