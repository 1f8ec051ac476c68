// The consumer runner's instruments, with the group label bound once. Names, help texts and labels
// are what dashboards and alerts query, so they must not change with the code around them.
import type { Registry } from '../../metrics.js';
import { counter, gauge, histogram } from '../../metrics.js';
import type { ErrorCode } from '../../errors.js';

export interface RunnerMetrics {
  /** Starts timing one handler attempt; call the result when the attempt ends. */
  handlerTimer(): () => void;
  /** A record the handler took (its outputs are pending, not yet flushed). */
  handled(): void;
  /** A failed attempt that will be tried again. */
  retried(): void;
  /** A record given up on: it goes to the DLQ for `reason`. */
  deadLettered(reason: ErrorCode): void;
  /** Starts timing one produce-and-commit; call the result once it is durable. */
  flushTimer(mode: 'transactional' | 'at-least-once'): () => void;
  /** Records behind the partition's end when a batch is done. */
  lag(topic: string, partition: number, records: number): void;
  /** A group join (start or rebalance). */
  groupJoined(): void;
}

export function createRunnerMetrics(registry: Registry, group: string): RunnerMetrics {
  const recordsTotal = counter(registry, 'bitpredict_consumer_records_total', 'Input records by outcome', ['group', 'outcome']);
  const dlqTotal = counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']);
  const retriesTotal = counter(registry, 'bitpredict_consumer_retries_total', 'Handler attempts that failed and were retried', ['group']);
  const handlerSeconds = histogram(registry, 'bitpredict_consumer_handler_seconds', 'Time in the record handler', ['group']);
  const flushSeconds = histogram(registry, 'bitpredict_consumer_flush_seconds', 'Time to produce outputs and commit offsets', ['group', 'mode']);
  const lagGauge = gauge(registry, 'bitpredict_consumer_lag_records', 'Records behind the partition end at the last batch', ['group', 'topic', 'partition']);
  const rebalances = counter(registry, 'bitpredict_consumer_rebalances_total', 'Group joins (start and every rebalance)', ['group']);
  return {
    handlerTimer: () => handlerSeconds.startTimer({ group }),
    handled: () => recordsTotal.inc({ group, outcome: 'ok' }),
    retried: () => retriesTotal.inc({ group }),
    deadLettered(reason) {
      dlqTotal.inc({ group, reason });
      recordsTotal.inc({ group, outcome: 'dlq' });
    },
    flushTimer: (mode) => flushSeconds.startTimer({ group, mode }),
    lag: (topic, partition, records) => lagGauge.set({ group, topic, partition: String(partition) }, records),
    groupJoined: () => rebalances.inc({ group }),
  };
}
