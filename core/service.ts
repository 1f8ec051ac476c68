// The shape every long-running service factory returns, so entrypoints, the demo and tests drive
// them the same way.
export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
  /**
   * What works but degraded, without making the service unready (for example the gateway serving
   * baseline predictions while no champion model exists). /readyz lists them beside the checks.
   */
  warnings?: string[];
}

export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Stop intake, drain and commit, release connections. Idempotent. */
  stop(): Promise<void>;
  readiness(): Readiness;
}
