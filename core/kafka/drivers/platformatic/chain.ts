// Walking a @platformatic/kafka error: the error model the driver's error mapping (base.ts) and its
// security classification (security.ts) both read.

/** Every error in a @platformatic/kafka error chain (MultipleErrors nest, causes chain). */
export function* chain(err: unknown, depth = 0): Generator<Record<string, unknown>> {
  if (depth > 8 || err === null || typeof err !== 'object') return;
  const e = err as Record<string, unknown>;
  yield e;
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* chain(inner, depth + 1);
  if (e.cause) yield* chain(e.cause, depth + 1);
}
