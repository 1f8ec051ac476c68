// The gateway's view of the model registry, for GET /v1/models and /readyz. Two sources:
// - the compacted `models` topic, read from the beginning in a consumer group of its own (one per
//   process start, like the predictor's follower): the latest announcement per model name is the
//   champion the predictors serve, and every version announced so far is listed;
// - the model store's registry (core/models/registry.ts), when the gateway runs beside the store: every
//   version in it with its metrics. The gateway may run without the store; then the topic alone
//   answers, and an unreadable store is logged, never an error.
// The topic wins for the champion, because that is what the predictors load.
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Platform } from '../core/runtime.js';
import { followFromStart, type Follower } from '../core/kafka/follow.js';
import type { ModelAnnouncement } from '../schemas/types.js';
import { announcementOf, listVersions, readRegistry } from '../core/models/registry.js';

/** One model version as the API shows it: its announcement without the name (times in epoch ms). */
// What a client may see of a version: no artifactUri. The announcement's URI names a file path on
// the trainer's disk or a topic (file:///..., kafka://...): server-side layout that helps only an
// attacker, so the view never holds it and no public answer can carry it.
export type ModelVersionInfo = Omit<ModelAnnouncement, 'name' | 'artifactUri'>;

export interface ModelVersionView extends ModelVersionInfo {
  /** This version is the current champion. */
  champion: boolean;
  /** Seen on the models topic. */
  announced: boolean;
  /** Found in the model store (only when the gateway can read the store). */
  inStore: boolean;
}

export interface ModelsSnapshot {
  name: string;
  champion: ModelVersionInfo | null;
  /** Oldest first (createdAt, then version). */
  versions: ModelVersionView[];
}

export interface ModelsView {
  /** Resolves once the topic has been read up to its end at start (or after `catchUpMs`). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The registry view of the configured model name, or of `name`. */
  snapshot(name?: string): ModelsSnapshot;
  /** A champion is known (topic or store). Expiry is not checked: the predictor reports that. */
  hasChampion(): boolean;
  /** The topic has been read to its end once since start. */
  readonly caughtUp: boolean;
}

export interface ModelsViewOptions {
  platform: Platform;
  logger: Logger;
  /** The model store folder; unreadable or missing: topic only. */
  storeDir: string;
  /** The model name whose champion counts (config.models.name). */
  name: string;
  catchUpMs?: number;
  /** How often the store's registry is re-read besides after each announcement (default 60 s). */
  refreshMs?: number;
}

function infoOf(a: ModelAnnouncement): ModelVersionInfo {
  return {
    version: a.version,
    featureSetVersion: a.featureSetVersion,
    trainedFrom: a.trainedFrom,
    trainedTo: a.trainedTo,
    metrics: a.metrics,
    backend: a.backend,
    codeVersion: a.codeVersion,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
  };
}

/** What the store holds for one model name. */
export interface StoreView {
  champion: string | null;
  versions: Map<string, ModelVersionInfo>;
}

/** The view's state without I/O: announcements and store reads go in, snapshots come out. */
export interface ModelsState {
  /** Applies one announcement (topic order: the latest per name is its champion). */
  announce(a: ModelAnnouncement): void;
  setStore(model: string, store: StoreView): void;
  /** Names seen on the topic. */
  names(): string[];
  snapshot(model: string): ModelsSnapshot;
}

export function createModelsState(): ModelsState {
  /** Latest announcement per model name (the topic's key). */
  const latest = new Map<string, ModelAnnouncement>();
  /** Every version announced per model name; a re-announcement of a version replaces its entry. */
  const announced = new Map<string, Map<string, ModelVersionInfo>>();
  const stores = new Map<string, StoreView>();
  return {
    announce(a) {
      latest.set(a.name, a);
      let versions = announced.get(a.name);
      if (!versions) {
        versions = new Map();
        announced.set(a.name, versions);
      }
      versions.set(a.version, infoOf(a));
    },
    setStore(model, store) {
      stores.set(model, store);
    },
    names: () => [...announced.keys()],
    snapshot(model) {
      const store = stores.get(model);
      const fromTopic = latest.get(model);
      let champion: ModelVersionInfo | null = fromTopic ? infoOf(fromTopic) : null;
      if (champion === null && store?.champion) champion = store.versions.get(store.champion) ?? null;
      const seen = announced.get(model) ?? new Map<string, ModelVersionInfo>();
      const all = new Map<string, ModelVersionView>();
      for (const [v, info] of store?.versions ?? []) all.set(v, { ...info, champion: false, announced: seen.has(v), inStore: true });
      // The announcement describes what predictors load; it replaces the store's copy of the fields.
      for (const [v, info] of seen) all.set(v, { ...info, champion: false, announced: true, inStore: store?.versions.has(v) ?? false });
      if (champion !== null) {
        const c = all.get(champion.version);
        if (c) c.champion = true;
      }
      const versions = [...all.values()].sort((a, b) => a.createdAt - b.createdAt || (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
      return { name: model, champion, versions };
    },
  };
}

/**
 * The store's registry of one model name: its champion and every version with readable meta.
 * Throws when the registry file exists but is unreadable; a missing store is an empty one.
 */
export async function readStoreView(storeDir: string, model: string, logger?: Logger): Promise<StoreView> {
  const [reg, list] = await Promise.all([readRegistry(storeDir, model), listVersions(storeDir, model)]);
  const versions = new Map<string, ModelVersionInfo>();
  for (const v of list) {
    if (v.meta) versions.set(v.version, infoOf(announcementOf(v.meta, storeDir)));
    else logger?.debug({ model, version: v.version, problem: v.problem }, 'store version without readable meta; not listed');
  }
  return { champion: reg.champion, versions };
}

export function createModelsView(opts: ModelsViewOptions): ModelsView {
  const { platform, storeDir, name } = opts;
  const log = opts.logger.child({ part: 'models-view' });
  const topic = platform.kafka.topic('models');
  const state = createModelsState();
  let follower: Follower | null = null;
  let refreshTimer: NodeJS.Timeout | undefined;
  let caughtUp = false;
  let storeProblem: string | null = null;
  let refreshing: Promise<void> = Promise.resolve();

  async function readStore(model: string): Promise<void> {
    try {
      state.setStore(model, await readStoreView(storeDir, model, log));
      if (storeProblem !== null) log.info({ storeDir }, 'model store readable again');
      storeProblem = null;
    } catch (err) {
      const problem = errorMessage(err);
      // Logged once per distinct problem, not on every refresh; what was read before stays.
      if (problem !== storeProblem) log.warn({ err: problem, storeDir }, 'model store registry unreadable; the models topic alone answers');
      storeProblem = problem;
    }
  }

  /** Re-reads the store for the configured name and every announced name, one refresh at a time. */
  function refresh(): Promise<void> {
    refreshing = refreshing.then(async () => {
      for (const model of new Set([name, ...state.names()])) await readStore(model);
    });
    return refreshing;
  }

  const snapshot = (model: string = name): ModelsSnapshot => state.snapshot(model);

  return {
    get caughtUp() {
      return caughtUp;
    },
    snapshot,
    hasChampion: () => snapshot().champion !== null,

    async start() {
      follower = await followFromStart({
        client: platform.kafka,
        topic,
        groupId: platform.kafka.privateGroupId('gateway-models'),
        logger: log,
        ...(opts.catchUpMs === undefined ? {} : { catchUpMs: opts.catchUpMs }),
        onCaughtUp: () => {
          caughtUp = true;
        },
        onMessage: async (message) => {
          const { partition } = message;
          const key = message.key?.toString() ?? null;
          if (message.value === null) {
            // Like the predictor: a tombstone does not stop the current champion serving.
            log.warn({ model: key }, 'models topic tombstone ignored');
            return;
          }
          let a: ModelAnnouncement;
          try {
            a = await platform.serde.decode('models', message.value);
          } catch (err) {
            log.warn({ err, partition, offset: message.offset }, 'models record not decodable; skipped');
            return;
          }
          if (key !== null && key !== a.name) {
            log.warn({ key, model: a.name, partition, offset: message.offset }, 'models record key differs from the announced name; skipped');
            return;
          }
          state.announce(a);
          log.info({ model: a.name, version: a.version }, 'model announcement');
          // The trainer writes its registry before it announces: re-read for the new metrics.
          if (caughtUp) void refresh();
        },
      });
      await refresh();
      refreshTimer = setInterval(() => void refresh(), opts.refreshMs ?? 60_000);
      refreshTimer.unref();
    },

    async stop() {
      clearInterval(refreshTimer);
      refreshTimer = undefined;
      const f = follower;
      follower = null;
      if (f) await f.stop();
      await refreshing;
    },
  };
}
