// Tracing for the CLI's commands: started only when an OTLP endpoint is configured, and only then
// is the SDK loaded (a dynamic import), so a command without an endpoint neither loads nor runs it.
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/metrics.js';
import { tracesUrl, type Tracing } from '../core/tracing-config.js';
import { VERSION } from '../core/version.js';

/** The name a command's process goes by in log lines and spans: OTEL_SERVICE_NAME, else bitpredict-<command>. */
export function serviceNameOf(config: Pick<Config, 'tracing'>, command: string): string {
  return config.tracing.serviceName !== '' ? config.tracing.serviceName : `bitpredict-${command}`;
}

/** True when spans will be exported (log lines then carry trace_id and span_id). */
export function tracingOn(config: Pick<Config, 'tracing'>): boolean {
  return tracesUrl(config.tracing) !== null;
}

/** Starts tracing for a command, or returns null when no endpoint is configured. */
export async function startCommandTracing(config: Pick<Config, 'tracing'>, command: string, registry: Registry, logger: Logger): Promise<Tracing | null> {
  if (!tracingOn(config)) return null;
  const { startTracing } = await import('../core/tracing.js');
  return startTracing({ config: config.tracing, serviceName: serviceNameOf(config, command), version: VERSION, registry, logger });
}
