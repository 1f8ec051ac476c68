// What the rest of the code needs to know about tracing without loading the OpenTelemetry SDK:
// whether it is on (an endpoint configured) and the handle core/tracing.ts returns when it is.
import type { Tracer } from '@opentelemetry/api';
import type { Config } from './config.js';

export interface Tracing {
  readonly tracer: Tracer;
  /** Where spans are posted. */
  readonly url: string;
  /** Exports what is queued (bounded by the export timeout). */
  flush(): Promise<void>;
  /** Exports what is queued, then unregisters the provider and the context manager. */
  shutdown(): Promise<void>;
}

/** The URL spans go to, or null when tracing is off. */
export function tracesUrl(config: Config['tracing']): string | null {
  if (config.tracesEndpoint !== '') return config.tracesEndpoint;
  if (config.endpoint === '') return null;
  return `${config.endpoint.replace(/\/+$/, '')}/v1/traces`;
}
