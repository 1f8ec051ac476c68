#!/usr/bin/env node
// `bitpredict <command>`: one CLI in front of every entrypoint. Commands are imported lazily so
// that `bitpredict stack status` does not load Kafka, TensorFlow or fastify.
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { BitPredictError, errorMessage, isBitPredictError } from '../core/errors.js';
import { createOutput } from './output.js';
import { serviceNameOf, tracingOn } from './tracing.js';

import type { Command } from './context.js';
import { redactText } from '../core/redact.js';

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  stack: { summary: 'stack up|down|status: run Kafka, the schema registry and Redis locally', load: async () => (await import('./stack/command.js')).run },
  demo: { summary: 'run the whole system on the local stack with real data replayed', load: async () => (await import('./demo.js')).demo },
  topics: {
    summary: 'topics create [--alter]|check|list: create the topics, register the Avro schemas, report (or --alter) retention that differs',
    load: async () => (await import('./services.js')).topics,
  },
  replay: { summary: 'replay a candle file from the data folder into market.candles', load: async () => (await import('./services.js')).replay },
  features: {
    summary: 'feature processor: market.candles + text.scored -> features + Redis (indicators, sentiment join)',
    load: async () => (await import('./services.js')).features,
  },
  sentiment: {
    summary: 'sentiment processor: text.raw -> text.scored (VADER; FinBERT when a model folder is set)',
    load: async () => (await import('./services.js')).sentiment,
  },
  trainer: {
    summary: 'trainer service: live error monitor (Prometheus) and scheduled / degradation-triggered retraining',
    load: async () => (await import('./services.js')).trainer,
  },
  train: {
    summary: 'train the LSTM-attention model, save a versioned artifact, promote it only if it beats the champion',
    load: async () => (await import('./train.js')).train,
  },
  models: {
    summary: 'models list|show <version|latest|champion> [--json]|promote <version>|rollback: the model registry (champion, history, lineage)',
    load: async () => (await import('./train.js')).models,
  },
  backtest: {
    summary: 'backtest a model on a replayed range (topics or files), point in time, with fees and slippage -> JSON + HTML report',
    load: async () => (await import('./backtest.js')).backtest,
  },
  evaluate: {
    summary: 'walk-forward evaluation of the LSTM-attention model beside naive baselines -> JSON + HTML report',
    load: async () => (await import('./evaluate.js')).evaluate,
  },
  ablation: {
    summary: 'ablation sentiment: the model with vs without the sentiment columns on development folds -> pinball, NLL, Diebold-Mariano',
    load: async () => (await import('./ablation.js')).ablation,
  },
  predictor: { summary: 'predictor: features -> predictions + Redis', load: async () => (await import('./services.js')).predictor },
  'market-data': {
    summary: 'live Binance and Coinbase market data with REST gap fill -> market.candles',
    load: async () => (await import('./market-data.js')).run,
  },
  poll: {
    summary: 'REST polling fallback: closed candles from a CryptoCompare-style API -> market.candles',
    load: async () => (await import('./poll.js')).run,
  },
  news: { summary: 'RSS/Atom news polling (BITPREDICT_RSS_FEEDS) -> text.raw', load: async () => (await import('./text.js')).runNews },
  x: { summary: 'X API v2 recent search (BITPREDICT_X_BEARER_TOKEN) -> text.raw', load: async () => (await import('./text.js')).runX },
  'text-replay': { summary: 'replay the real tweets or news file into text.raw', load: async () => (await import('./text.js')).runTextReplay },
  gateway: { summary: 'gateway: HTTP + WebSocket push of predictions, dashboard', load: async () => (await import('./services.js')).gateway },
  dlq: {
    summary: 'dlq list|show <id>|redrive [--dry-run]: look at dead letters, send them back to their source topic',
    load: async () => (await import('./dlq.js')).dlq,
  },
  keys: {
    summary: "keys create --name <n> --scope read|admin | list | revoke <id>: the gateway's API keys",
    load: async () => (await import('./keys.js')).keys,
  },
};

// Old command names that scripts may still use; they run the command they map to but are not listed.
const aliases = new Map([['indicators', 'features']]);

const output = createOutput({ stdout: process.stdout, stderr: process.stderr });

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `usage: bitpredict <command> [args]\n\ncommands:\n${lines.join('\n')}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    output.line(usage());
    return name === undefined ? 1 : 0;
  }
  const entry = commands[aliases.get(name) ?? name];
  if (!entry) {
    output.error(`bitpredict: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    output.error(`bitpredict: ${redactText(errorMessage(err))}`);
    return 2;
  }
  // service and version on every line; trace_id and span_id too while spans are exported.
  const logger = createLogger({ level: config.logLevel, name: serviceNameOf(config, name), traceIds: tracingOn(config) });
  const command = await entry.load();
  const code = await command({ config, logger, output, args, env: process.env });
  return code ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // One clear line for errors we understand; a stack trace only for bugs.
    // Either way through redactText: a driver's message may quote a URL or a password.
    if (isBitPredictError(err)) output.error(redactText(`bitpredict: ${err.code}: ${err.message}`));
    else output.error(redactText(`bitpredict: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
    process.exitCode = err instanceof BitPredictError && err.code === 'ERR_CONFIG_INVALID' ? 2 : 1;
  },
);
