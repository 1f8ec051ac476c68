// Types shared by the gateway's HTTP app, its route modules and its auth guard, and the fastify
// route config every route with a scope declares.
import type { AuthGuard, Principal } from './auth/guard.js';
import type { Scope } from './auth/keys.js';

export type { Scope } from './auth/keys.js';
export type { AuthOutcome, Principal as AuthPrincipal } from './auth/guard.js';

/** What the app asks of the auth guard (gateway/auth/guard.ts) for every route with a scope. */
export type AuthGate = AuthGuard;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope an API key needs for this route; routes without one are public (health, metrics, docs, dashboard). */
    scope?: Scope;
    /** false: exempt from the REST rate limit (the ops routes: probes and scrapes). */
    rateLimit?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}
