// Walking a kafkajs error: the error model the driver's error mapping (errors.ts) and its security
// classification (security.ts) both read.

/** The fields of a kafkajs error (or of a Node error it wraps) the driver reads. */
export interface KafkaJsErrorLike {
  name?: string;
  type?: string;
  code?: string | number;
  retriable?: boolean;
  message?: string;
  cause?: unknown;
  originalError?: unknown;
  broker?: string;
  apiName?: string;
}

/** The error and the errors it wraps, outermost first (retrier errors keep the last one as `cause`/`originalError`). */
export function chainOf(err: unknown): KafkaJsErrorLike[] {
  const chain: KafkaJsErrorLike[] = [];
  let current: unknown = err;
  while (current !== null && typeof current === 'object' && chain.length < 8 && !chain.includes(current)) {
    const e = current as KafkaJsErrorLike;
    chain.push(e);
    current = e.cause ?? e.originalError;
  }
  return chain;
}
