// What a handler failure means for its record (docs/operations.md#dead-letter-queue has the table):
//   - 'dependency': a service the handler needs is down or failing (Redis, the schema registry,
//     Kafka). The record is fine: the runner keeps the partition where it is and retries with
//     capped backoff until the dependency answers again, never dead-lettering it;
//   - 'transient': retryable but not known to be infrastructure (an unclassified exception): a few
//     attempts (BITPREDICT_DLQ_MAX_ATTEMPTS), then the DLQ, so a record that always breaks the
//     handler cannot block its partition for good;
//   - 'permanent': the record itself is wrong (undecodable bytes, invalid fields, a schema id the
//     registry does not have): the DLQ at once.
import { errorMessage, isBitPredictError, type ErrorCode } from '../../errors.js';

export type FailureKind = 'dependency' | 'transient' | 'permanent';

export interface Classified {
  code: ErrorCode;
  retryable: boolean;
  kind: FailureKind;
  message: string;
}

/** Codes that mean "a dependency is down", whatever record was being handled. */
export const DEPENDENCY_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_REDIS_UNREACHABLE',
  'ERR_REDIS',
  'ERR_REGISTRY_UNREACHABLE',
  'ERR_KAFKA_UNREACHABLE',
  'ERR_KAFKA_RETRIABLE',
  'ERR_UNAVAILABLE',
]);

// Socket failures of any client (Node's error codes), and ioredis' own words for a command that
// failed because the connection is down (its offline queue, maxRetriesPerRequest).
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
const IOREDIS_DOWN = /^(Connection is closed\.?|Stream isn't writeable|Reached the max retries per request limit)/;
const IOREDIS_NAMES = new Set(['MaxRetriesPerRequestError']);
const IOREDIS_SERVER_DOWN = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|OOM)\b/;

function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  let e: unknown = err;
  for (let i = 0; i < 5 && e !== undefined && e !== null; i++) {
    out.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** A registry error that is the registry's fault (5xx, 408, 429), not the request's. */
function registryServerSide(err: unknown): boolean {
  return causes(err).some((c) => {
    const status = (c as { status?: unknown }).status;
    return typeof status === 'number' && (status >= 500 || status === 408 || status === 429);
  });
}

/** A raw (non-BitPredict) error that says a connection is down: the code it stands for, or null. */
function connectionDown(err: unknown): ErrorCode | null {
  for (const c of causes(err)) {
    if (!(c instanceof Error)) continue;
    if (IOREDIS_NAMES.has(c.name) || IOREDIS_DOWN.test(c.message) || IOREDIS_SERVER_DOWN.test(c.message)) return 'ERR_REDIS_UNREACHABLE';
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return 'ERR_HANDLER';
  }
  return null;
}

export function classifyFailure(err: unknown): Classified {
  if (isBitPredictError(err)) {
    const base = { code: err.code, retryable: err.retryable, message: err.message };
    if (DEPENDENCY_CODES.has(err.code)) return { ...base, kind: 'dependency' };
    if (err.code === 'ERR_REGISTRY' && registryServerSide(err)) return { ...base, kind: 'dependency' };
    return { ...base, kind: err.retryable ? 'transient' : 'permanent' };
  }
  const down = connectionDown(err);
  if (down !== null) return { code: down, retryable: true, kind: 'dependency', message: errorMessage(err) };
  return { code: 'ERR_HANDLER', retryable: true, kind: 'transient', message: errorMessage(err) };
}
