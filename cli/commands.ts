// The `bitpredict` commands: each spec (cli/specs.ts) with the loader of its code. Commands are
// imported lazily, so that `bitpredict stack status` or any `--help` loads no Kafka, TensorFlow
// or fastify.
import type { Command } from './context.js';
import type { CommandSpec } from './flags.js';
import { SPECS } from './specs.js';

export interface CommandEntry {
  readonly spec: CommandSpec;
  readonly load: () => Promise<Command>;
}

// Typed by SPECS' keys: a spec without a loader, or a loader without a spec, does not compile.
export const COMMANDS: Readonly<Record<keyof typeof SPECS, CommandEntry>> = {
  stack: { spec: SPECS['stack'], load: async () => (await import('./stack/command.js')).run },
  demo: { spec: SPECS['demo'], load: async () => (await import('./demo.js')).demo },
  topics: { spec: SPECS['topics'], load: async () => (await import('./services.js')).topics },
  replay: { spec: SPECS['replay'], load: async () => (await import('./services.js')).replay },
  features: { spec: SPECS['features'], load: async () => (await import('./services.js')).features },
  sentiment: { spec: SPECS['sentiment'], load: async () => (await import('./services.js')).sentiment },
  trainer: { spec: SPECS['trainer'], load: async () => (await import('./services.js')).trainer },
  train: { spec: SPECS['train'], load: async () => (await import('./train.js')).train },
  models: { spec: SPECS['models'], load: async () => (await import('./train.js')).models },
  backtest: { spec: SPECS['backtest'], load: async () => (await import('./backtest.js')).backtest },
  evaluate: { spec: SPECS['evaluate'], load: async () => (await import('./evaluate.js')).evaluate },
  ablation: { spec: SPECS['ablation'], load: async () => (await import('./ablation.js')).ablation },
  predictor: { spec: SPECS['predictor'], load: async () => (await import('./services.js')).predictor },
  'market-data': { spec: SPECS['market-data'], load: async () => (await import('./market-data.js')).run },
  poll: { spec: SPECS['poll'], load: async () => (await import('./poll.js')).run },
  news: { spec: SPECS['news'], load: async () => (await import('./text.js')).runNews },
  x: { spec: SPECS['x'], load: async () => (await import('./text.js')).runX },
  'text-replay': { spec: SPECS['text-replay'], load: async () => (await import('./text.js')).runTextReplay },
  gateway: { spec: SPECS['gateway'], load: async () => (await import('./services.js')).gateway },
  dlq: { spec: SPECS['dlq'], load: async () => (await import('./dlq.js')).dlq },
  // `bitpredict data inspect|import` (cli/data.ts); `data fetch` (cli/data-fetch.ts) is dispatched from cli/data.ts too.
  data: { spec: SPECS['data'], load: async () => (await import('./data.js')).data },
  keys: { spec: SPECS['keys'], load: async () => (await import('./keys.js')).keys },
};

/** Old command names that scripts may still use; they run the command they map to but are not listed. */
export const ALIASES: ReadonlyMap<string, string> = new Map([['indicators', 'features']]);
