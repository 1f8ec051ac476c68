// Errors with stable codes and a retryable flag, so the consumer runner can decide between "retry"
// and "dead-letter" without string matching, and so operators can look a code up in
// docs/errors.md. The codes and the error class live in schemas/errors.ts: they are part of the
// public contract (dlq records, HTTP and WebSocket replies carry them), and the contract floor
// raises them without importing anything. Code above the schemas imports them from here.
export {
  ErrorCodes,
  BitPredictError,
  isBitPredictError,
  /** Message of any thrown value, for logs and DLQ reasons. */
  messageOf as errorMessage,
  type ErrorCode,
  type BitPredictErrorOptions,
} from '../schemas/errors.js';
