// The error codes of BitPredict and the error that carries them. Codes are part of the public
// contract: dlq records (errorCode), HTTP error bodies and WebSocket error messages carry them, and
// docs/errors.md lists them. Every error a service raises has a stable code and a retryable flag.
// This file imports nothing, so every floor (schemas included) can raise these errors; code above
// the schemas imports them through core/errors.ts.

export const ErrorCodes = {
  ERR_CONFIG_INVALID: { retryable: false, doc: 'Configuration failed validation; every bad key is listed.' },
  ERR_KAFKA_UNREACHABLE: { retryable: true, doc: 'No Kafka broker answered at the configured bootstrap addresses.' },
  ERR_KAFKA: { retryable: false, doc: 'A non-retriable Kafka client error.' },
  ERR_KAFKA_RETRIABLE: { retryable: true, doc: 'A retriable Kafka client error (leader moved, timeout, coordinator loading).' },
  ERR_KAFKA_AUTH: {
    retryable: false,
    doc: 'The broker refused the SASL credentials; the message names the BITPREDICT_KAFKA_SASL_* settings to check.',
  },
  ERR_KAFKA_TLS: {
    retryable: false,
    doc: 'The TLS handshake with a broker failed (unknown CA, bad client certificate, host name mismatch, TLS to a plaintext port); the message names the BITPREDICT_KAFKA_SSL_* setting to check.',
  },
  ERR_KAFKA_FENCED: {
    retryable: false,
    doc: 'Another instance took over this transactional id (exactly-once): this producer is a zombie and must stop; the message names the transactional id.',
  },
  ERR_KAFKA_VERSION: {
    retryable: false,
    doc: 'The broker does not support an API version the Kafka client needs; the message names the API, the client (BITPREDICT_KAFKA_CLIENT) and the broker.',
  },
  ERR_KAFKA_ACL: {
    retryable: false,
    doc: "The broker's authorizer refused an operation (no ACL for it); the message names the topic, group or transactional id and the principal (BITPREDICT_KAFKA_SASL_USERNAME).",
  },
  ERR_REGISTRY_UNREACHABLE: { retryable: true, doc: 'The schema registry did not answer.' },
  ERR_REGISTRY: { retryable: false, doc: 'The schema registry refused a request (for example an incompatible schema).' },
  ERR_REGISTRY_AUTH: {
    retryable: false,
    doc: 'The schema registry refused the credentials (HTTP 401/403); the message names BITPREDICT_REGISTRY_USERNAME and the password setting.',
  },
  ERR_REGISTRY_TLS: {
    retryable: false,
    doc: 'The TLS handshake with the schema registry failed (unknown CA, host name mismatch, TLS to a plain HTTP port); the message names the BITPREDICT_REGISTRY_SSL_* setting to check.',
  },
  ERR_REDIS_UNREACHABLE: { retryable: true, doc: 'Redis did not answer.' },
  ERR_REDIS_AUTH: {
    retryable: false,
    doc: 'Redis refused the login or a command (WRONGPASS, NOAUTH, NOPERM); the message names BITPREDICT_REDIS_USERNAME and the password setting, or the ACL to check.',
  },
  ERR_REDIS_TLS: {
    retryable: false,
    doc: 'The TLS handshake with Redis failed (unknown CA, host name mismatch, TLS to a plain port); the message names the BITPREDICT_REDIS_SSL_* setting to check.',
  },
  ERR_REDIS: { retryable: true, doc: 'A Redis command or transaction failed.' },
  ERR_SERDE_DECODE: { retryable: false, doc: 'A record value is not valid Confluent-framed Avro for its topic.' },
  ERR_SERDE_ENCODE: { retryable: false, doc: 'A value does not match the Avro schema of its topic.' },
  ERR_SERDE_UNKNOWN_SCHEMA: { retryable: true, doc: 'A record refers to a schema id the registry cannot resolve (yet).' },
  ERR_VALIDATION: { retryable: false, doc: 'A record decoded but broke a domain rule (negative price, high < low, future timestamp...).' },
  ERR_REPLAY_MALFORMED_ROW: { retryable: false, doc: 'A replay file row could not be parsed.' },
  ERR_REPLAY_FILE: { retryable: false, doc: 'A replay file is missing, unreadable or of an unknown format.' },
  ERR_MALFORMED_INPUT: { retryable: false, doc: 'An exchange frame, REST body or feed document could not be parsed (kept in the DLQ with its raw bytes).' },
  ERR_HANDLER: { retryable: true, doc: 'A message handler failed for a reason not otherwise classified; retried, then dead-lettered.' },
  ERR_STACK: { retryable: false, doc: 'The local stack (Kafka, registry, Redis) could not be fetched, started or stopped.' },
  ERR_SHUTDOWN_TIMEOUT: { retryable: false, doc: 'Graceful shutdown did not finish before its deadline.' },
  ERR_NOT_FOUND: { retryable: false, doc: 'HTTP: no such route or resource (for example no prediction yet for a symbol).' },
  ERR_INTERNAL: { retryable: true, doc: 'HTTP: an unexpected server-side failure; the details are in the server log.' },
  ERR_UNAUTHENTICATED: { retryable: false, doc: 'HTTP 401 / WebSocket 4001: no API key was presented, or the key is unknown, malformed or revoked.' },
  ERR_FORBIDDEN: { retryable: false, doc: 'HTTP 403: the API key is valid but its scope does not allow this (admin routes need the admin scope).' },
  ERR_ORIGIN_FORBIDDEN: {
    retryable: false,
    doc: "HTTP 403: a browser request came from an Origin that is neither the gateway's public origin (BITPREDICT_GATEWAY_PUBLIC_ORIGIN), a loopback or IP-address page of the gateway itself, nor in BITPREDICT_GATEWAY_ALLOWED_ORIGINS.",
  },
  ERR_HOST_FORBIDDEN: {
    retryable: false,
    doc: "HTTP 403: the Host header names a host the gateway does not serve (not a loopback name, not an IP address, not the public origin's or an allowed origin's host, not in BITPREDICT_GATEWAY_ALLOWED_HOSTS); this stops DNS rebinding.",
  },
  ERR_RATE_LIMITED: {
    retryable: true,
    doc: 'HTTP 429 (with Retry-After): more REST requests per second than BITPREDICT_GATEWAY_HTTP_RATE allows, or more open WebSockets than BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_KEY / _PER_ADDRESS; on a WebSocket, more messages per second than BITPREDICT_GATEWAY_CLIENT_RATE allows (the request was refused).',
  },
  ERR_UNAVAILABLE: { retryable: true, doc: 'HTTP 503: a source the route needs (Redis, the models topic) is not available right now; retry later.' },
  ERR_BACKTEST_RANGE: {
    retryable: false,
    doc: 'A backtest range is not covered by the data: outside what the topics retain or the files hold (the message gives the range that is available).',
  },
  ERR_FORECAST_INVALID: {
    retryable: false,
    doc: 'A forecast distribution or a model head is not valid: quantiles cross, the scale is not positive or not finite, or an artifact lacks the forecast head; the model is refused and the previous champion (or the baselines) keeps serving.',
  },
  ERR_FINAL_WINDOW: {
    retryable: false,
    doc: 'A run would compute figures on the hourly final evaluation window (2025-01-01 .. end of data) for a model design the final-window ledger (docs/final-window-ledger.json) already records: evaluate --purpose final, or a backtest of 1h data past 2025-01-01. Nothing was read; a further look needs --force-reason "<why>", which is recorded in the ledger with the run.',
  },
  ERR_WS_PROTOCOL: { retryable: false, doc: 'A WebSocket client sent a message that is not part of the protocol.' },
  ERR_EXCHANGE_UNAVAILABLE: {
    retryable: true,
    doc: "An exchange's REST API kept failing (network errors, timeouts, 5xx) past the retries, or asked to wait (Retry-After on 429/418) longer than bitpredict data fetch waits; the message names the BITPREDICT_*_REST_URL setting. What was fetched is kept: run the same command again to continue.",
  },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface BitPredictErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export class BitPredictError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: BitPredictErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BitPredictError';
    this.code = code;
    this.retryable = options.retryable ?? ErrorCodes[code].retryable;
    this.details = options.details;
  }
}

export function isBitPredictError(err: unknown): err is BitPredictError {
  return err instanceof BitPredictError;
}

/** Message of any thrown value, for logs and DLQ reasons (core/errors.ts exports it as errorMessage). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
