// What the authentication services need of the application. Each function takes the narrowest
// of these; src/app.ts App satisfies them all structurally, so callers pass the app itself and
// nothing under src/auth imports the application (which imports everything).

import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Store } from "../store/db.js";
import type { MethodTable } from "../access/authorize.js";

export interface StoreContext {
  readonly store: Store;
}

/** The per-source rate limits (./rate-limit.ts). */
export interface RateLimitContext extends StoreContext {
  /** TEST ONLY: loopback callers skip the limiters (see App.rateLimitLoopbackExempt). */
  readonly rateLimitLoopbackExempt: boolean;
  /** Random wait before "Rate Limit Exceeded", in ms [min, max]. */
  readonly rateLimitDelay: readonly [number, number];
}

/** The login limiter (./limiter.ts): lock-out and per-account delay, with audit entries. */
export interface LimiterContext extends RateLimitContext {
  readonly config: Pick<Config, "loginLimits">;
  readonly log: Logger;
}

/** Computing a session's rights (./revalidate.ts): role sets expand over the published methods. */
export interface RightsContext extends StoreContext {
  readonly registry: MethodTable;
}
