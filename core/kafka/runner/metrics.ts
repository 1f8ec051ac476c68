// The consumer runner's instruments, with the group label bound once. Names, help texts and labels
// are what dashboards and alerts query, so they must not change with the code around them.
import type { Registry } from '../../metrics.js';
import { counter, gauge, histogram } from '../../metrics.js';
import type { ErrorCode } from '../../errors.js';
import { tpKey } from './rebalance.js';

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
  /** Records behind the partition's end when a batch is done. Ignored for a partition not owned. */
  lag(topic: string, partition: number, records: number): void;
  /**
   * The partitions this member owns after a group join (tpKey form). The lag series of every other
   * partition this member reported is removed: a gauge left at its last value after the partition
   * moved would show a stale, low lag beside the new owner's growing one, and an alert on the
   * group's lag (max by topic and partition) could not tell them apart.
   */
  owned(partitions: ReadonlySet<string>): void;
  /** The member left its group: all its lag series are removed. */
  stopped(): void;
  /** A group join (start or rebalance). */
  groupJoined(): void;
  /** A partition started waiting for a dependency (`waiting`: partitions waiting now). */
  dependencyWaitStarted(reason: ErrorCode, waiting: number): void;
  /** A partition's wait ended after `seconds` (`waiting`: partitions still waiting). */
  dependencyWaitEnded(reason: ErrorCode, seconds: number, waiting: number): void;
}

export function createRunnerMetrics(registry: Registry, group: string): RunnerMetrics {
  const recordsTotal = counter(registry, 'bitpredict_consumer_records_total', 'Input records by outcome', ['group', 'outcome']);
  const dlqTotal = counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']);
  const retriesTotal = counter(registry, 'bitpredict_consumer_retries_total', 'Handler attempts that failed and were retried', ['group']);
  const handlerSeconds = histogram(registry, 'bitpredict_consumer_handler_seconds', 'Time in the record handler', ['group']);
  const flushSeconds = histogram(registry, 'bitpredict_consumer_flush_seconds', 'Time to produce outputs and commit offsets', ['group', 'mode']);
  const lagGauge = gauge(registry, 'bitpredict_consumer_lag_records', 'Records behind the partition end at the last batch', ['group', 'topic', 'partition']);
  const rebalances = counter(registry, 'bitpredict_consumer_rebalances_total', 'Group joins (start and every rebalance)', ['group']);
  const waitsTotal = counter(
    registry,
    'bitpredict_consumer_dependency_waits_total',
    'Times a partition was held because a dependency (Redis, registry, Kafka) was down, by the code of the first failure',
    ['group', 'reason'],
  );
  const waitSeconds = counter(registry, 'bitpredict_consumer_dependency_wait_seconds_total', 'Time partitions spent held waiting for a dependency', [
    'group',
    'reason',
  ]);
  const waitingGauge = gauge(registry, 'bitpredict_consumer_dependency_waiting', 'Partitions held right now waiting for a dependency', ['group']);
  // The lag series this member has set, by tpKey, so exactly those are removed when it loses the
  // partition (another runner in the process may report other groups on the same gauge).
  const reported = new Map<string, { topic: string; partition: string }>();
  // null until the first join: the driver delivers no batch before it, and a lag reported then is kept.
  let owned: ReadonlySet<string> | null = null;
  function dropLagExcept(keep: ReadonlySet<string>): void {
    for (const [key, labels] of reported) {
      if (keep.has(key)) continue;
      lagGauge.remove({ group, ...labels });
      reported.delete(key);
    }
  }
  return {
    handlerTimer: () => handlerSeconds.startTimer({ group }),
    handled: () => recordsTotal.inc({ group, outcome: 'ok' }),
    retried: () => retriesTotal.inc({ group }),
    deadLettered(reason) {
      dlqTotal.inc({ group, reason });
      recordsTotal.inc({ group, outcome: 'dlq' });
    },
    flushTimer: (mode) => flushSeconds.startTimer({ group, mode }),
    lag(topic, partition, records) {
      const key = tpKey(topic, partition);
      // A batch that ends after its partition was revoked must not bring the series back.
      if (owned !== null && !owned.has(key)) return;
      const labels = { topic, partition: String(partition) };
      reported.set(key, labels);
      lagGauge.set({ group, ...labels }, records);
    },
    owned(partitions) {
      owned = new Set(partitions);
      dropLagExcept(owned);
    },
    stopped() {
      owned = new Set();
      dropLagExcept(owned);
    },
    groupJoined: () => rebalances.inc({ group }),
    dependencyWaitStarted(reason, waiting) {
      waitsTotal.inc({ group, reason });
      waitingGauge.set({ group }, waiting);
    },
    dependencyWaitEnded(reason, seconds, waiting) {
      waitSeconds.inc({ group, reason }, seconds);
      waitingGauge.set({ group }, waiting);
    },
  };
}
