// One send at a time per producer, in call order, for both drivers: neither client keeps an
// idempotent producer's sequence numbers right when two sends are in flight at once.
//   - @platformatic/kafka 1.35 reads a partition's sequence number when it builds a produce request
//     and advances it only when the response comes, so two sends in flight carry the same sequence
//     and the broker refuses the second (OUT_OF_ORDER_SEQUENCE_NUMBER), or, in later versions,
//     acknowledges it as a duplicate without writing it (platformatic/kafka#326).
//   - kafkajs 2.2 serialises requests per broker, but when a request fails for one partition
//     (a leader not yet elected on a new topic, NOT_LEADER after a move) it rolls back the sequence
//     numbers of every partition in it, including those the broker appended. A send waiting on the
//     same broker then reuses those numbers: the broker takes its records for a retry of the
//     appended ones and drops them, and the failed send's retry writes its own records twice.
//     Seen in test/integration/kafka-drivers.test.ts: 20 concurrent sends of 10 records to a new
//     topic, one send's records twice and another's never (1 run in 8). One send at a time, the
//     retry follows the failure at once and the broker's duplicate check absorbs it.
// The cost is parallelism across brokers for callers that send concurrently; every service here
// awaits its sends in order anyway.

/** Runs calls one at a time in call order; a failed call neither blocks nor fails the next. */
export function serialized<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  let tail: Promise<void> = Promise.resolve();
  return (...args) => {
    const run = tail.then(() => fn(...args));
    tail = run.catch(() => undefined);
    return run;
  };
}
